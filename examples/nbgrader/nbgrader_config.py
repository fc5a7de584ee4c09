# An nbgrader course for the linear_classifiers assignment: copy this file into the course
# folder (the one that will hold source/, release/, submitted/ ...) and adapt it.
# propgrade reads the course id, the gradebook and the folder layout from here.
c = get_config()  # noqa: F821 (nbgrader provides get_config when it loads this file)

c.CourseDirectory.course_id = "cs231n"
# The exchange is where release_assignment, submit and collect meet. A shared folder that
# every student can write to and the instructor can read, e.g. on a JupyterHub:
#   sudo mkdir -p /srv/nbgrader/exchange && sudo chmod ugo+rw /srv/nbgrader/exchange
c.Exchange.root = "/srv/nbgrader/exchange"
# The gradebook: gradebook.db next to this file. A relative SQLite path is relative to
# the course folder, where nbgrader runs; propgrade reads it the same way wherever it is
# started. An absolute one has four slashes: "sqlite:////srv/nbgrader/cs231n/gradebook.db".
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
