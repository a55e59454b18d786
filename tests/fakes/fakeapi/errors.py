"""API errors, answered as kube-apiserver answers them: a meta/v1 Status object.

Real behaviour: every failed request gets `{"kind": "Status", "status": "Failure", "code",
"reason", "message", "details"}` with the HTTP status equal to `code`
(k8s.io/apimachinery/pkg/api/errors). The messages below copy the real server's wording
where clients or people are known to match on it.
"""


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(resource, name):
    details = {"name": name, "kind": resource.plural}
    if resource.group:
        details["group"] = resource.group
    return details


def not_found(resource, name):
    return ApiError(404, "NotFound", f'{resource.group_resource} "{name}" not found', _details(resource, name))


def path_not_found():
    # An unknown URL: the real server's generic 404 for paths no handler serves.
    return ApiError(404, "NotFound", "the server could not find the requested resource",
                    {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})


def already_exists(resource, name):
    return ApiError(409, "AlreadyExists", f'{resource.group_resource} "{name}" already exists',
                    _details(resource, name))


def conflict(resource, name, why="the object has been modified; please apply your changes to the latest "
                                 "version and try again"):
    # Optimistic concurrency: an update carrying a stale metadata.resourceVersion.
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {resource.group_resource} "{name}": {why}',
                    _details(resource, name))


def invalid(resource, name, causes):
    """422 Invalid; `causes` is a list of (field, reason, message) from validation."""
    text = "; ".join(f"{field}: {message}" for field, _, message in causes)
    details = {"name": name, "kind": resource.kind, "causes": [
        {"reason": reason, "message": message, "field": field} for field, reason, message in causes]}
    if resource.group:
        details["group"] = resource.group
    # The message names the qualified kind, e.g. GRPCRoute.gateway.networking.k8s.io.
    kind = f"{resource.kind}.{resource.group}" if resource.group else resource.kind
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {text}', details)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def method_not_allowed(method):
    return ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource "
                                             f"({method})")


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def expired(message):
    # 410 Gone: the resourceVersion a list or watch asked for has been compacted away.
    return ApiError(410, "Expired", message)


def too_large_resource_version(requested, current):
    # A list/watch at a resourceVersion the server has not reached: the real watch cache
    # waits up to 3 s for it, then answers 504 with this cause.
    return ApiError(504, "Timeout", f"Too large resource version: {requested}, current: {current}",
                    {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                     "retryAfterSeconds": 1}, headers={"Retry-After": "1"})


_REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    409: "Conflict", 410: "Expired", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}


def injected(code):
    """The answer during /fake/errors: the Status a real server sends for that code."""
    headers = {"Retry-After": "1"} if code in (429, 503, 504) else {}
    return ApiError(code, _REASONS.get(code, ""), f"fake apiserver: injected failure (HTTP {code})", None, headers)
