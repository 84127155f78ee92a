"""Instructors only: the homework's reference solution
(``chapters/homework_solution.ipynb``).

Installed beside ``optbook`` by the book's ``scripts/setup``; never part of the
students' release, whose ``optbook`` holds only the assignment side
(:mod:`optbook.homework`).
"""
