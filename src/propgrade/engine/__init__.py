"""The grading engine: drawing cases, replaying properties against a submission, scoring."""
