"""Checks of the benchmark's parsers on recorded tool output (no processes started).

  /usr/bin/python3 -m unittest discover -s bench/lib -t bench
"""

import unittest

from lib import h2c, load, robustness

H2LOAD_OUTPUT = """starting benchmark...
finished in 10.00s, 11839.60 req/s, 1.21MB/s
requests: 118396 total, 118460 started, 118396 done, 118390 succeeded, 6 failed, 4 errored, 1 timeout
status codes: 118390 2xx, 0 3xx, 0 4xx, 2 5xx
traffic: 12.11MB (12697876) total, 1.54MB (1612356) headers (space savings 95.25%), 3.37MB data
"""

class ParserTest(unittest.TestCase):
    def test_h2load_summary_is_read(self):
        result = load.parse_h2load(H2LOAD_OUTPUT)
        self.assertEqual((result.total, result.done, result.errored, result.timeout), (118396, 118396, 4, 1))
        self.assertEqual(result.status["2xx"], 118390)
        self.assertEqual(result.not_ok, 6)
        self.assertAlmostEqual(result.rps, 11839.6)
        self.assertAlmostEqual(result.seconds, 10.0)

    def test_h2load_output_without_summary_is_an_error(self):
        with self.assertRaises(Exception):
            load.parse_h2load("connect failed\n")

    def test_percentiles_come_from_sorted_latencies(self):
        result = load.H2loadResult()
        result.latencies_us = list(range(1000, 101000, 1000))  # 1 ms .. 100 ms
        self.assertAlmostEqual(result.percentile_ms(50), 51.0)
        self.assertAlmostEqual(result.percentile_ms(99), 99.0)

    def test_say_hello_body_is_a_length_prefixed_hello_request(self):
        body = h2c.hello_request_body("bench")
        self.assertEqual(body, b"\x00\x00\x00\x00\x07\x0a\x05bench")
        self.assertEqual(h2c.proto_fields(h2c.grpc_messages(body)[0]), {1: b"bench"})

    def test_stats_reply_fields_are_decoded(self):
        reply = h2c.proto_string_field(1, "greeter-2") + b"\x38\xac\x02"  # calls = 300
        fields = h2c.proto_fields(reply)
        self.assertEqual((fields[1], fields[7]), (b"greeter-2", 300))

    def test_phases_cover_failures_by_time(self):
        phases = [("steady", 10.0, 20.0), ("crash", 20.0, 30.0), ("steady", 30.0, 40.0)]
        self.assertEqual([robustness._phase_of(phases, t) for t in (10.0, 19.9, 20.0, 39.9, 40.0)],
                         [0, 0, 1, 2, None])


if __name__ == "__main__":
    unittest.main()
