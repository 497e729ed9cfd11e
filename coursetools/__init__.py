"""coursetools: what instructors and maintainers run; students never need to read it.

Modules
-------
execute          ``python -m coursetools.execute``: regenerate the notebooks' outputs
assign           ``python -m coursetools.assign``: student notebooks without solutions
graded           ``python -m coursetools.graded``: the graded notebook of one chapter
student_book     ``python -m coursetools.student_book``: the student edition of the book
course           ``python -m coursetools.course init|grade|bench``: the nbgrader course,
                 grading a class in parallel, and what autograding costs
nbgrader_plugins what the course's nbgrader_config.py plugs into nbgrader
sandbox          ``python -m coursetools.sandbox``: the bubblewrap sandbox of a kernel
job              ``python -m coursetools.job``: one submission executed, one result file
classgrade       a class: sandboxed jobs in parallel, then nbgrader as the one writer
sanitize         autograde's sanitize step for stripped, pasted and emptied cells
grading          autograde's grading step: sandboxed execution, verdicts, the report
verdicts         hidden tests judged outside the student's process
references       the grader's answers to the graded exercises (never in the sandbox)
expected         ``python -m coursetools.expected``: the self-checks' stored values
forbidden        hand derivations that call autodiff, for the report
report           the per-submission report and grading_report.csv
"""
