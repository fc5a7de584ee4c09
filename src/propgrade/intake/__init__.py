"""From what a student uploaded to the text that gets graded, read on the trusted side
before any sandbox: folders, notebooks, student ids and submission times."""
