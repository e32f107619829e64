"""The teacher's side of the course: the student edition of the lessons and the ``simlab`` command.

- :mod:`simlab.teacher.editions`: the student edition (solutions out, hidden tests out) with
  nbgrader's preprocessors;
- :mod:`simlab.teacher.cli`: the ``simlab`` command (``python -m simlab``).
"""
