"""labelSelector and fieldSelector, parsed and matched like k8s.io/apimachinery.

labels.Parse: comma-separated requirements `key`, `!key`, `key=v`, `key==v`, `key!=v`,
`key in (a,b)`, `key notin (a,b)`, `key>N`, `key<N`. `!=` and `notin` also match objects
that lack the label. A syntax error is a 400 BadRequest.

fields.ParseSelector: comma-separated `field=v`, `field==v`, `field!=v`, with `\\`, `\\,`
and `\\=` escapes. Each resource supports only its own field labels; any other field is a
400 "field label not supported: X", as the real server answers.
"""

import re

from .errors import bad_request

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?" + _NAME + "$")
_VALUE_RE = re.compile(r"^(" + _NAME + ")?$")


def valid_label_key(key):
    if not _KEY_RE.match(key):
        return False
    prefix, _, name = key.rpartition("/")
    return len(name) <= 63 and len(prefix) <= 253


def valid_label_value(value):
    return len(value) <= 63 and bool(_VALUE_RE.match(value))


# ---- labels ----

_OPERATOR_CHARS = "=!<>(),"


def _tokenize(text):
    tokens = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith(("==", "!="), i):
            tokens.append(text[i:i + 2])
            i += 2
        elif c in _OPERATOR_CHARS:
            tokens.append(c)
            i += 1
        else:
            start = i
            while i < len(text) and not text[i].isspace() and text[i] not in _OPERATOR_CHARS:
                i += 1
            tokens.append(text[start:i])
    return tokens


class LabelSelector:
    """A parsed labelSelector; an empty one matches everything."""

    def __init__(self, text):
        self.text = text or ""
        self.requirements = []  # (key, operator, values)
        tokens = _tokenize(self.text)
        pos = 0

        def peek():
            return tokens[pos] if pos < len(tokens) else None

        def take(what):
            nonlocal pos
            token = peek()
            if token is None:
                raise bad_request(f"unable to parse requirement: found '', expected: {what}")
            pos += 1
            return token

        def identifier(what):
            token = take(what)
            if token in _OPERATOR_CHARS or token in ("==", "!="):
                raise bad_request(f"unable to parse requirement: found '{token}', expected: {what}")
            return token

        while pos < len(tokens):
            if peek() == "!":
                take("!")
                key = identifier("identifier")
                self._add(key, "!", [])
            else:
                key = identifier("identifier")
                op = peek()
                if op is None or op == ",":
                    self._add(key, "exists", [])
                elif op in ("=", "==", "!="):
                    take(op)
                    value = "" if peek() in (None, ",") else identifier("value")
                    self._add(key, "!=" if op == "!=" else "=", [value])
                elif op in ("in", "notin"):
                    take(op)
                    if take("'('") != "(":
                        raise bad_request("unable to parse requirement: expected '(' after " + op)
                    values = []
                    while True:
                        token = take("value or ')'")
                        if token == ")":
                            break
                        if token == ",":
                            values.append("")
                            continue
                        values.append(token)
                        closing = take("',' or ')'")
                        if closing == ")":
                            break
                        if closing != ",":
                            raise bad_request(f"unable to parse requirement: found '{closing}', expected: ',' or ')'")
                    if not values:
                        raise bad_request("unable to parse requirement: for 'in', 'notin' operators, values set "
                                          "can't be empty")
                    self._add(key, op, values)
                elif op in ("<", ">"):
                    take(op)
                    value = identifier("integer")
                    if not re.fullmatch(r"-?[0-9]+", value):
                        raise bad_request(f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must "
                                          f"be an integer: {value}")
                    self._add(key, op, [value])
                else:
                    raise bad_request(f"unable to parse requirement: found '{op}', expected: "
                                      "'=', '!=', '==', 'in', notin'")
            if pos < len(tokens):
                if take("','") != ",":
                    raise bad_request(f"unable to parse requirement: found '{tokens[pos - 1]}', expected: ','")
                if pos == len(tokens):
                    raise bad_request("unable to parse requirement: found '', expected: identifier")

    def _add(self, key, op, values):
        if not valid_label_key(key):
            raise bad_request(f"unable to parse requirement: invalid label key \"{key}\"")
        for value in values:
            if op not in ("<", ">") and not valid_label_value(value):
                raise bad_request(f"unable to parse requirement: invalid label value: \"{value}\"")
        self.requirements.append((key, op, values))

    def empty(self):
        return not self.requirements

    def matches(self, labels):
        labels = labels or {}
        for key, op, values in self.requirements:
            present = key in labels
            value = labels.get(key)
            if op == "exists" and not present:
                return False
            if op == "!" and present:
                return False
            if op in ("=", "in") and (not present or value not in values):
                return False
            if op in ("!=", "notin") and present and value in values:
                return False
            if op in ("<", ">"):
                try:
                    number = int(value) if present else None
                except ValueError:
                    number = None
                if number is None or (op == ">" and not number > int(values[0])) or \
                        (op == "<" and not number < int(values[0])):
                    return False
        return True


# ---- fields ----

def _split_unescaped(text, separator):
    parts, current, i = [], "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            current += text[i:i + 2]
            i += 2
        elif text[i] == separator:
            parts.append(current)
            current = ""
            i += 1
        else:
            current += text[i]
            i += 1
    parts.append(current)
    return parts


def _unescape(value):
    out, i = "", 0
    while i < len(value):
        if value[i] == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                raise bad_request(f"invalid field selector: invalid escape sequence in {value!r}")
            out += value[i + 1]
            i += 2
        else:
            out += value[i]
            i += 1
    return out


def _find_operator(term):
    """Position and text of the first unescaped =, == or != in a term."""
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        if term.startswith("!=", i) or term.startswith("==", i):
            return i, term[i:i + 2]
        if term[i] == "=":
            return i, "="
        i += 1
    return -1, None


class FieldSelector:
    """A parsed fieldSelector; `labels` maps each supported field to a getter(obj) -> str."""

    def __init__(self, text, labels):
        self.text = text or ""
        self.terms = []  # (getter, negated, value)
        if not self.text.strip():
            return
        for term in _split_unescaped(self.text, ","):
            at, op = _find_operator(term)
            if at < 0:
                raise bad_request(f"invalid selector: '{self.text}'; can't understand '{term}'")
            field = term[:at].strip()
            value = _unescape(term[at + len(op):])
            if field not in labels:
                raise bad_request(f"field label not supported: {field}")
            self.terms.append((labels[field], op == "!=", value))

    def empty(self):
        return not self.terms

    def matches(self, obj):
        for getter, negated, value in self.terms:
            if (getter(obj) == value) == negated:
                return False
        return True
