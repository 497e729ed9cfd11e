"""coursetools: what instructors and maintainers run; students never need to read it.

Modules
-------
execute          ``python -m coursetools.execute``: regenerate the notebooks' outputs
assign           ``python -m coursetools.assign``: student notebooks without solutions
graded           ``python -m coursetools.graded``: the graded notebook of one chapter
student_book     ``python -m coursetools.student_book``: the student edition of the book
course           ``python -m coursetools.course init|bench``: the nbgrader course, and
                 what autograding each chapter costs
nbgrader_plugins what the course's nbgrader_config.py plugs into nbgrader
"""
