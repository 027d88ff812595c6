"""Evaluation: respond, judge, runs, metrics, attribute analyses, judge-check."""
