"""Human-friendly reports: a feedback page per student and a class report, as standalone
HTML files (inline CSS and SVG, no scripts, nothing fetched).

    OUT/<student>/feedback.html   write_student_page
    OUT/report.html               write_class_report
    both, from OUT/*/propgrade.json  rebuild_reports
"""

from __future__ import annotations

from propgrade.reports.class_report import write_class_report
from propgrade.reports.paths import FEEDBACK_NAME, REPORT_NAME
from propgrade.reports.rebuild import ReportPaths, rebuild_reports
from propgrade.reports.student_page import write_student_page
from propgrade.reports.visibility import AUDIENCES, INSTRUCTOR, STUDENT

__all__ = [
    "AUDIENCES",
    "FEEDBACK_NAME",
    "INSTRUCTOR",
    "REPORT_NAME",
    "STUDENT",
    "ReportPaths",
    "rebuild_reports",
    "write_class_report",
    "write_student_page",
]
