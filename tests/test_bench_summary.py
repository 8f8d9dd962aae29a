"""bench/load.py's report: medians per column, and pigw / floor as the median of each round's own ratio."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))

import load  # noqa: E402  (bench/load.py)


def _round(floor_rps, pigw_rps, pigw_cpu, pigw_errors=0):
    return {
        "stream_c16": {
            "direct": {"rps": 8000.0, "cpu_s_per_1k": 0.1},
            "floor": {"rps": floor_rps, "cpu_s_per_1k": 0.4},
            "pigw": {"rps": pigw_rps, "cpu_s_per_1k": pigw_cpu},
        },
        "stream_c64": {"pigw": {"errors": pigw_errors}},
    }


class SummaryTest(unittest.TestCase):
    def setUp(self):
        self.report = {
            # the floor's own rate swings from round to round; pigw tracks it
            "rounds": [_round(2700.0, 2100.0, 0.5), _round(1800.0, 1400.0, 0.6, 2), _round(2300.0, 1500.0, 0.55)],
            "startup_s": {"floor": [0.1, 0.3, 0.2], "pigw": [0.2, 0.25, 0.15]},
            "idle_rss_mib": {"floor": 21.0, "pigw": 24.5},
        }

    def test_vs_floor_is_the_median_of_per_round_ratios(self):
        row = load.summarize(self.report)["streams c16"]
        self.assertEqual(row["floor"], 2300.0)
        self.assertEqual(row["pigw"], 1500.0)
        # per round 0.778, 0.778, 0.652: median 0.778 (the column medians would give 1500 / 2300 = 0.652)
        self.assertEqual(row["vs_floor"], 0.78)
        self.assertEqual(load.summarize(self.report)["CPU per 1000 streams (c16)"]["vs_floor"], 1.38)

    def test_a_round_missing_a_side_is_left_out_of_the_ratio(self):
        del self.report["rounds"][1]["stream_c16"]["floor"]
        row = load.summarize(self.report)["streams c16"]
        self.assertEqual(row["floor"], 2500.0)
        self.assertEqual(row["vs_floor"], 0.71)  # rounds 1 and 3: 0.778, 0.652

    def test_errors_are_summed_and_other_rows_keep_their_units(self):
        table = load.summarize(self.report)
        self.assertEqual(table["errors, streams c64"], {"unit": "sum", "pigw": 2})
        self.assertEqual(
            table["start to first /v1/models 200"], {"unit": "s", "floor": 0.2, "pigw": 0.2, "vs_floor": 1.0}
        )
        self.assertEqual(table["idle RSS after start"]["vs_floor"], 1.17)

    def test_targets_read_the_summary(self):
        verdicts = {entry["target"]: entry["met"] for entry in load.check_targets(load.summarize(self.report))}
        self.assertIs(verdicts["streams c16 >= 0.7x floor"], True)
        self.assertIs(verdicts["0 errors, streams c64"], False)
        self.assertIsNone(verdicts["non-stream c16 >= 0.6x floor"])


if __name__ == "__main__":
    unittest.main()
