"""coursetools: what instructors and maintainers run; students never need to read it.

Modules
-------
execute    ``python -m coursetools.execute``: regenerate the notebooks' stored outputs
assign     ``python -m coursetools.assign``: student notebooks without solutions
"""
