"""Reports of a run: Allure results (the record), the summary and score, the baseline diff, the HTML report.

- :mod:`.results` writes what Allure reads beside the test results (environment, categories,
  executor) and reads results folders back;
- :mod:`.verdict_hooks` grades each test (passed, failed, broken, deviation, skipped, error),
  labels it for Allure and attaches what a reader of a failure needs;
- :mod:`.summary` turns results folders (one run, xdist workers, or several CI jobs) into one
  summary with a score per API, as JSON, Markdown and a terminal table;
- :mod:`.diff` compares two summaries (regressions, fixes, new and removed checks);
- :mod:`.html` builds the HTML report with Allure 3's own command-line tool.
"""

from pathlib import Path

RESULTS_DIR = "allure-results"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
JUNIT = "junit.xml"
HTML_DIR = "html"
DEFAULT_REPORTS = Path("reports")
