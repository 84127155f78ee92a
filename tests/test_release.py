"""The students' release, handouts and forks (scripts/release.py, book_tools.py,
check_release.py, fork-for-class), on the book's own notebooks, without building the
book (scripts/test builds the release and checks it; these tests are the fast part)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import types
import zipfile
from pathlib import Path
from unittest import mock

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "_ext"))
import book_tools as bt  # noqa: E402
import book_version  # noqa: E402
import check_release  # noqa: E402
import release  # noqa: E402

CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
WITH_SOLUTIONS = [p for p in CHAPTERS if not bt.is_solution_chapter(p)]


@pytest.fixture(scope="module")
def fingerprints():
    return check_release.Fingerprints(ROOT)


# --- removing solutions
# ------------------------------------------------------------------


EXERCISE = "```{exercise}\n:label: ex-a\nWhat is 1 + 1?\n```\n"


@pytest.mark.parametrize(
    "block",
    [
        "```{solution} ex-a\n:class: dropdown\nTwo.\n```\n",
        "````{solution} ex-a\n:class: dropdown\n"
        "```python\nprint(1 + 1)\n```\nTwo.\n````\n",
        ":::{solution} ex-a\n:class: dropdown\nTwo.\n:::\n",
        "```{solution-start} ex-a\n```\nTwo.\n```{solution-end}\n```\n",
    ],
    ids=["backticks", "nested-code", "colon-fence", "gated"],
)
def test_strip_solutions_removes_every_kind_of_block(block):
    text = f"Before.\n\n{EXERCISE}\n{block}\nAfter.\n"
    stripped, removed = bt.strip_solutions(text)
    assert removed == 1
    assert "Two" not in stripped and "print" not in stripped
    assert stripped == f"Before.\n\n{EXERCISE}\nAfter.\n"


def test_strip_solutions_refuses_an_unclosed_block():
    with pytest.raises(ValueError, match="unclosed"):
        bt.strip_solutions("```{solution} ex-a\nTwo.\n")


@pytest.mark.parametrize("path", WITH_SOLUTIONS, ids=lambda p: p.name)
def test_every_solution_of_the_chapters_is_removed(path):
    """Two parsers agree: the release's line scanner removes exactly the blocks that
    MyST's own parser (markdown-it, as the checker uses it) finds, and leaves the
    exercises."""
    nb = nbformat.read(path, as_version=4)
    found = sum(
        len(check_release.split_solutions(c.source)[0])
        for c in nb.cells
        if c.cell_type == "markdown"
    )
    exercises = sum(c.source.count("{exercise}") for c in nb.cells)
    removed = bt.strip_notebook_solutions(nb)
    assert removed == found
    left = [c.source for c in nb.cells if "{solution" in c.source]
    assert not left, f"{path.name}: solutions left: {left}"
    assert sum(c.source.count("{exercise}") for c in nb.cells) == exercises


# --- the Colab install cell
# --------------------------------------------------------------


def run_cell(source: str) -> list:
    colab = {"google.colab": types.ModuleType("google.colab")}
    with mock.patch("subprocess.run") as run, mock.patch.dict(sys.modules, colab):
        exec(compile(source, "first cell", "exec"), {})
    return run.call_args.args[0]


def test_first_cell_fits_88_columns_and_installs_even_a_long_url():
    url = (
        "https://github.com/"
        + "a-very-long-organisation-name/"
        + "repository-" * 6
        + "x"
    )
    for instructor in (False, True):
        source = bt.first_cell(url, "1.2.3", instructor=instructor)
        assert max(map(len, source.splitlines())) <= 88
        command = run_cell(source)
        assert command[5] == f"optbook @ git+{url}@v1.2.3"
        assert len(command) == (7 if instructor else 6)
    assert command[6] == f"optbook-solution @ git+{url}@v1.2.3#subdirectory=instructor"


@pytest.mark.parametrize(
    "bad", ["github.com/a/b", "https://github.com", "http://x/y", "a b"]
)
def test_a_bad_repository_url_is_refused_clearly(bad):
    with pytest.raises(ValueError, match="not a repository URL"):
        bt.check_url(bad)


def test_fork_for_class_sets_the_url_everywhere(tmp_path):
    # (with the lists scripts/setup reads: the environment linked below is up to date)
    for name in ("_config.yml", "pyproject.toml", "requirements.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "instructor").mkdir()
    shutil.copy(ROOT / "instructor/pyproject.toml", tmp_path / "instructor")
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    shutil.copytree(ROOT / "_ext", tmp_path / "_ext")  # the version is read there
    (tmp_path / "chapters").mkdir()
    for path in CHAPTERS[:1] + [p for p in CHAPTERS if bt.is_solution_chapter(p)]:
        shutil.copy(path, tmp_path / "chapters" / path.name)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    url = "https://github.com/my-course/optimizers-2027"
    subprocess.run(
        [tmp_path / "scripts" / "fork-for-class", "--repo-url", url],
        check=True,
        capture_output=True,
    )
    config = (tmp_path / "_config.yml").read_text()
    assert yaml.safe_load(config)["repository"]["url"] == url
    assert config.count("#") == (ROOT / "_config.yml").read_text().count(
        "#"
    )  # comments kept
    version = bt.book_version(ROOT)
    for path in (tmp_path / "chapters").glob("*.ipynb"):
        first = next(
            c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"
        )
        assert run_cell(first.source)[5] == f"optbook @ git+{url}@v{version}"
        assert first.source == bt.first_cell(url, version, bt.is_solution_chapter(path))
    failed = subprocess.run(
        [tmp_path / "scripts" / "fork-for-class", "--repo-url", "nope"],
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 2 and "not a repository URL" in failed.stderr


# --- the release folder and the checker
# --------------------------------------------------


@pytest.fixture(scope="module")
def students_repo(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "repo"
    done = release.make_repo(out, "https://github.com/my-course/students", None)
    return out, done


def test_the_release_leaves_out_what_instructors_keep(students_repo):
    out, done = students_repo
    assert not (out / "instructor").exists()
    assert not (out / "INSTRUCTORS.md").exists()
    assert not list(out.rglob("homework_solution*"))
    assert not list(out.rglob("optbook_solution*"))
    for path in out.rglob("*.py"):
        assert not check_release.IMPORTS_SOLUTION.search(path.read_text()), path
    assert done["solutions"] == sum(
        bt.strip_notebook_solutions(nbformat.read(p, as_version=4))
        for p in WITH_SOLUTIONS
    )
    toc = (out / "_toc.yml").read_text()
    assert "homework_solution" not in toc and "chapters/homework" in toc
    config = yaml.safe_load((out / "_config.yml").read_text())
    assert config["repository"]["url"] == "https://github.com/my-course/students"
    assert config["sphinx"]["config"]["hide_solutions"] is True
    assert "solutions fold out" not in str(config["parse"]["myst_substitutions"])
    readme = (out / "README.md").read_text()
    clone = "git clone https://github.com/my-course/students\ncd students\n"
    assert f"```bash\n{clone}" in readme
    assert f"tag `v{bt.book_version(ROOT)}`" in readme
    version = bt.book_version(ROOT)
    for path in (out / "chapters").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code").source
        command = run_cell(first)
        assert command[5:] == [
            f"optbook @ git+https://github.com/my-course/students@v{version}"
        ]


def test_the_release_folder_holds_no_solution_text(students_repo, fingerprints):
    out, _ = students_repo
    leaks, count = check_release.check([out], fingerprints)
    assert count > 20
    assert not leaks, leaks


def test_the_checker_finds_a_solution_left_in(tmp_path, fingerprints):
    """The checker is not blind: a full notebook, a solution chapter, a page quoting one
    solution and a wheel holding the solution's module are each reported."""
    assert fingerprints.blocks >= len(WITH_SOLUTIONS) and len(fingerprints.runs) > 1000
    assert not fingerprints.blocks_without_fingerprint
    full = WITH_SOLUTIONS[0]
    shutil.copy(full, tmp_path / full.name)
    assert check_release.check([tmp_path], fingerprints)[0]
    nb = nbformat.read(full, as_version=4)
    cell = next(c for c in nb.cells if "{solution}" in c.source)
    solution = check_release.split_solutions(cell.source)[0][0]
    words = " ".join(solution.split("\n", 2)[-1].split()[:30])
    (tmp_path / full.name).unlink()
    (tmp_path / "page.html").write_text(f"<html><body><p>{words}</p></body></html>")
    leaks = check_release.check([tmp_path / "page.html"], fingerprints)[0]
    assert leaks and "text of the solution" in leaks[0]
    link = '<a href="chapters/homework_solution.html">x</a>'
    (tmp_path / "page.html").write_text(link)
    leaks = check_release.check([tmp_path / "page.html"], fingerprints)[0]
    assert leaks and "names the solution chapter" in leaks[0]
    solution_module = ROOT / "instructor" / "optbook_solution" / "frame_detection.py"
    with zipfile.ZipFile(tmp_path / "x.whl", "w") as wheel:
        wheel.writestr("optbook/homework/detector.py", solution_module.read_text())
    leaks = check_release.check([tmp_path / "x.whl"], fingerprints)[0]
    assert any("x.whl!optbook/homework/detector.py" in leak for leak in leaks)


def test_the_checker_refuses_html_without_solutions_as_the_full_book(
    tmp_path, fingerprints
):
    """Given pages in which it finds no solution block, the checker cannot tell solution
    text from the rest: it stops rather than check blindly."""
    (tmp_path / "page.html").write_text(
        "<html><body><p>No solution here.</p></body></html>"
    )
    with pytest.raises(SystemExit, match="solution blocks"):
        check_release.html_public_text(tmp_path, fingerprints.notebook_blocks)


def test_the_students_optbook_wheel_holds_no_solution(tmp_path, fingerprints):
    """optbook as pip installs it from the students' repository (the first cells
    install it): a wheel built from pyproject.toml and code/, with no module of the
    solution."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "code",
        src / "code",
        ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"),
    )
    # Offline with the environment's setuptools; where it has none (venvs of Python
    # 3.12+), pip fetches setuptools for an isolated build.
    local = importlib.util.find_spec("setuptools") is not None
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps"]
    command += ["--no-build-isolation"] if local else []
    built = subprocess.run(
        [*command, "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_NO_INDEX": "1"} if local else None,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("optbook-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "optbook/homework/grading.py" in names  # the assignment side is there
    assert not [n for n in names if "solution" in n or "frame_detection" in n]
    leaks, _ = check_release.check([wheel], fingerprints)
    assert not leaks, leaks


def test_footer_names_the_version_and_commit(monkeypatch, tmp_path):
    monkeypatch.setenv("OPTBOOK_BOOK_COMMIT", "abc1234")
    assert book_version.footer_text(ROOT) == (
        f"Version {bt.book_version(ROOT)}, built from commit abc1234."
    )
    monkeypatch.delenv("OPTBOOK_BOOK_COMMIT")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert commit and commit in book_version.footer_text(ROOT)
    monkeypatch.delenv("OPTBOOK_ROOT", raising=False)
    assert (
        book_version.footer_text(tmp_path)
        == "Version unknown, built from commit unknown."
    )


def test_the_guides_name_the_books_version():
    """The instructors' guide and the README use the version the Colab cells pin."""
    version = bt.book_version(ROOT)
    guide = (ROOT / "INSTRUCTORS.md").read_text()
    tags = set(re.findall(r"\bv(\d+\.\d+\.\d+)\b", guide))
    assert tags == {version}, f"INSTRUCTORS.md: tags {tags}, pyproject.toml: {version}"
    assert f"version **{version}**" in guide


def test_the_version_is_read_without_tomllib_too(monkeypatch):
    """Python 3.10 (the README's oldest) has no tomllib: the fallback reads the same."""
    text = (ROOT / "pyproject.toml").read_text()
    expected = bt.project_version(text)
    real_import = __import__

    def no_tomllib(name, *args, **kwargs):
        if name == "tomllib":
            raise ModuleNotFoundError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr("builtins.__import__", no_tomllib)
    assert bt.project_version(text) == expected == book_version.project_version(text)
    with pytest.raises(ValueError, match="no project.version"):
        bt.project_version('[tool.x]\nversion = "9"\n')


# --- the checker reads pages as the rendering made them
# -----------------------------------


def tiny_book(root: Path, solution: str, public: str) -> check_release.Fingerprints:
    """The fingerprints of a one-chapter book whose exercise has ``solution``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(public),
        nbformat.v4.new_markdown_cell(
            f"{EXERCISE}\n```{{solution}} ex-a\n:class: dropdown\n{solution}\n```\n"
        ),
    ]
    (root / "chapters").mkdir(parents=True)
    nbformat.write(nb, root / "chapters" / "x.ipynb")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return check_release.Fingerprints(root)


def test_equation_numbers_and_rendered_joins_are_no_leak(tmp_path):
    """The false alarm of a page built alone: the number "(2)" of the equation after
    ``g_t`` made the run "1 beta 1 g t 2 v t", which a solution's formula holds. The
    number is not read, and a run never spans two formulas or a formula and prose."""
    fingerprints = tiny_book(
        tmp_path,
        solution=r"Unrolled: $(1-\beta_1) g_t 2 v_t \beta_2$ is the answer.",
        public="$$\nm_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t\n$$ (eq-m)\n\n"
        "$$\nv_t = \\beta_2 v_{t-1}\n$$ (eq-v)\n",
    )
    page = (
        '<div class="math" id="equation-m"><span class="eqno">(1)<a class="headerlink"'
        ' href="#equation-m">#</a></span>\\[\nm_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t'
        '\n\\]</div><div class="math"><span class="eqno">(2)</span>\\[\nv_t = '
        "\\beta_2 v_{t-1}\n\\]</div>"
    )
    seen_whole = check_release.runs(
        check_release.words(BeautifulSoup(page, "html.parser").get_text(" "))
    )
    assert set(seen_whole) & set(fingerprints.runs)  # read whole, a false alarm
    (tmp_path / "page.html").write_text(page)
    assert check_release.check([tmp_path / "page.html"], fingerprints)[0] == []
    shown = (  # the solution itself, as a page shows it, is found
        "<p>Unrolled: <span class='math'>\\((1-\\beta_1) g_t 2 v_t \\beta_2\\)</span>"
        " is the answer.</p>"
    )
    (tmp_path / "page.html").write_text(page + shown)
    leaks = check_release.check([tmp_path / "page.html"], fingerprints)[0]
    assert leaks == [
        "page.html/page.html: text of the solution in chapters/x.ipynb cell 1 block 1"
    ]


def test_the_pieces_of_a_page(tmp_path):
    """Prose runs through emphasis and code; math, references, glued values and
    citations are pieces of their own; numbering and header links are not read;
    scripts and comments are read too."""
    page = (
        "<h2><span class='section-number'>3.1. </span>Bias<a class='headerlink'>#</a>"
        "</h2><p>The <em>first</em> moment <code>m_t</code> is "
        "<span class='math notranslate'>\\(m_t\\)</span> as in <a class='reference'>"
        "(3.1)</a> and <span class='pasted-text'>0.25</span> <span class='n'>lr</span>"
        "</p><script>var x = 1;</script><!-- a comment -->"
    )
    assert check_release.html_pieces(page) == [
        "Bias",
        "The first moment m_t is ",
        "\\(m_t\\)",
        " as in ",
        "(3.1)",
        " and ",
        "0.25",
        " lr",
        "var x = 1;",
        " a comment ",
    ]


@pytest.mark.parametrize("path", WITH_SOLUTIONS, ids=lambda p: p.name)
def test_every_solution_is_found_as_a_page_shows_it(path, fingerprints):
    """Not blind: each solution block of the chapters, rendered to HTML (MyST's
    markdown-it with its math), is still found, by at least 3 runs."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark").use(dollarmath_plugin)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for block in check_release.split_solutions(cell.source)[0]:
            body = [
                line for line in block.split("\n")[1:-1] if not line.startswith(":")
            ]
            html = md.render("\n".join(body))
            found = [
                r
                for r in check_release.piece_runs(check_release.html_pieces(html))
                if r in fingerprints.runs
            ]
            assert len(found) >= 3, f"{path.name}: a solution not found:\n{block}"


HANDOUT_CHAPTERS = WITH_SOLUTIONS + sorted((ROOT / "chapters").glob("*.md"))


@pytest.mark.parametrize("path", HANDOUT_CHAPTERS, ids=lambda p: p.name)
def test_every_chapters_handout_passes_the_leak_check(path, tmp_path, fingerprints):
    """What scripts/handout --no-solutions hands out for each chapter, in small: the
    chapter without its solutions (as scripts/build-page strips it), and a page of it
    (MyST's markdown-it with its math, code in <pre>), read by the checker: no leak.
    (The pages Sphinx builds are checked in the release, and one handout's page in
    tests/test_instructor_guide.py.)"""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark").use(dollarmath_plugin)
    if path.suffix == ".md":
        text, _ = bt.strip_solutions(path.read_text())
        (tmp_path / path.name).write_text(text)
        html = md.render(text)
    else:
        nb = nbformat.read(path, as_version=4)
        bt.strip_notebook_solutions(nb)
        bt.clear_outputs(nb)
        nbformat.write(nb, tmp_path / path.name)
        html = "".join(
            md.render(c.source)
            if c.cell_type == "markdown"
            else f"<pre>{c.source}</pre>"
            for c in nb.cells
        )
    (tmp_path / f"{path.stem}.html").write_text(html)
    leaks, count = check_release.check([tmp_path], fingerprints)
    assert count == 2 and not leaks, leaks


def test_a_markdown_chapters_solution_is_stripped_and_checked(tmp_path):
    """A Markdown chapter may have exercises too: the release strips its solutions
    (as it does a notebook's), and the checker knows them."""
    solution = "Divide the step by the root of the running average of squares, always."
    text = (
        f"# X\n\n{EXERCISE}\n```{{solution}} ex-a\n:class: dropdown\n{solution}\n```\n"
    )
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    (book / "chapters" / "x.md").write_text(text)
    subprocess.run(["git", "init", "-q", str(book)], check=True)
    fingerprints = check_release.Fingerprints(book)
    assert fingerprints.blocks == 1 and not fingerprints.blocks_without_fingerprint
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x.md").write_text(text)
    assert check_release.check([tmp_path / "out"], fingerprints)[0]
    stripped, removed = bt.strip_solutions(text)
    assert removed == 1
    (tmp_path / "out" / "x.md").write_text(stripped)
    assert not check_release.check([tmp_path / "out"], fingerprints)[0]


def test_the_students_repository_has_its_own_workflow_and_readme(students_repo):
    """Its workflow runs its own test command and publishes its book (actionlint
    passes); its README says where the homework is, how it is graded, how to set up."""
    out, _ = students_repo
    workflow = out / ".github" / "workflows" / "book.yml"
    text = workflow.read_text()
    assert text == (ROOT / release.STUDENTS_WORKFLOW).read_text()
    assert "run: scripts/test" in text and "instructor/" not in text
    assert "deploy-pages" in text
    assert not (out / release.STUDENTS_WORKFLOW).exists()
    lint = subprocess.run(
        [Path(sys.executable).parent / "actionlint", str(workflow)],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    readme = (out / "README.md").read_text()
    for needed in (
        "`chapters/homework.ipynb`",
        "scripts/grade-submissions chapters/my_submission/",
        "marked",
        "scripts/setup",
        "scripts/test --quick",
    ):
        assert needed in readme, needed
    setup = (out / "scripts" / "setup").read_text()
    assert "[ -f instructor/pyproject.toml ]" in setup  # only where it exists


def test_a_new_release_keeps_the_git_repository_made_in_it(tmp_path):
    """INSTRUCTORS.md: git init in repo/; a new release replaces the files, not .git."""
    out = tmp_path / "repo"
    url = "https://github.com/my-course/students"
    release.make_repo(out, url, None)
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / "old-file.txt").write_text("from an older release")
    release.make_repo(out, url, None)
    assert (out / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert not (out / "old-file.txt").exists()
    assert (out / "README.md").is_file()


def test_search_terms_are_checked_against_the_books_outputs(tmp_path):
    """With the executed notebooks of the build (no full book needed), a term of the
    search index that only a solution uses is a leak; a word the book's code prints
    (an output) is not."""
    fingerprints = tiny_book(
        tmp_path / "book",
        solution="Try the zygomorphic schedule with MultiStepLR instead of this one.",
        public="Public text about learning rates.",
    )
    stems = fingerprints.solution_stems()
    zygo, multi = (next(s for s, w in stems.items() if w == x) for x in
                   ("zygomorphic", "multisteplr"))  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    index = {"terms": {zygo: [0], multi: [0], "public": [0]}, "titleterms": {}}
    (out / "searchindex.js").write_text(f"Search.setIndex({json.dumps(index)})")
    executed = tmp_path / "jupyter_execute"
    executed.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(names)")]
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", text="ConstantLR, MultiStepLR, OneCycleLR\n")
    ]
    nbformat.write(nb, executed / "x.ipynb")
    fingerprints = check_release.Fingerprints(tmp_path / "book")
    leaks = check_release.check([out], fingerprints, executed=executed)[0]
    assert leaks == [
        "out/searchindex.js: search terms found only in solutions ['zygomorphic']"
    ]
