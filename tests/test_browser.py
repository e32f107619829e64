"""The lessons as students see them: JupyterLab in a browser, widgets drawn by the ipywidgets front end.

nbval runs the notebooks in a headless kernel, where a widget is only a model. This test starts
JupyterLab from the kit's own environment (127.0.0.1, a free port, a random token), opens a COPY of
every lesson in headless Chromium driven by Playwright, runs all cells through the JupyterLab UI
(Edit > Clear Outputs of All Cells, then Run > Run All Cells, in the fresh kernel) and waits until
the kernel is idle. Then it checks that:

- no cell shows an error, and every code cell ran (checked on the page and in the notebook file
  that JupyterLab saves);
- the check cells earn every point, as nbgrader scores them (no error, no stderr);
- every cell marked ``# NBVAL_CHECK_OUTPUT`` printed what the committed notebook holds, compared
  as nbval compares (text and HTML outputs; images, widget ids and stderr left out): so each
  lesson runs once in ``make test``, here, and ../conftest.py leaves the lessons out of nbval's
  run when this test runs them (without Chromium, nbval runs them). The student edition differs
  from these notebooks only in its stubs (tests/test_student_edition.py checks that);
- every widget the lesson displays is drawn by the front end (its DOM: dropdowns, slider, image;
  or a finished progress bar), not shown as a text fallback such as ``VBox(children=...)``;
- choosing another stage in the feature-map explorer redraws its figure, and choosing another
  photo in the pair-similarity explorer updates the score.

Screenshots go to ``tests/screenshots/`` (git-ignored): ``<lesson>.png`` is the whole notebook
(the window is made as tall as the notebook), ``<lesson>-explorer*.png`` the window scrolled to
the explorer before and after the change.

It needs Debian's ``chromium`` (``apt-get install chromium``) and the Python ``playwright`` package
(a dev dependency); ``playwright install`` is never needed. Without Chromium the test is skipped
with a warning that says how to enable it. ``SIMLAB_CHROMIUM`` points at another Chromium binary,
``SIMLAB_BROWSER_TIMEOUT`` changes the time bound per lesson (seconds).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import determine_grade

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "tests" / "screenshots"
NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("0*.ipynb"))
CHROMIUM = os.environ.get("SIMLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",  # the server is on 127.0.0.1; never route it through a proxy
]
#: Seconds one lesson may take, from opening it to the last check (each runs in < 1 min on 2 cores).
TIME_BOUND = float(os.environ.get("SIMLAB_BROWSER_TIMEOUT", "240"))
SERVER_START_TIMEOUT = 90
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: What a widget looks like when the front end cannot draw it: its repr, or the manager's message.
TEXT_FALLBACK = re.compile(r"^\s*(VBox|HBox|Box|Dropdown|IntSlider|Image|HTML|Output)\("
                           r"|Error displaying widget|Loading widget\.\.\.|model not found", re.M)
#: The last line of a rendered traceback: ``ValueError: ...``, ``SyntaxError: ...``.
#: What nbval does not compare (besides stderr, which ../conftest.py drops for it too).
NOT_COMPARED = {"image/png", "image/jpeg", WIDGET_MIME}
ERROR_LINE = re.compile(r"^\s*(\w+\.)*\w*(Error|Exception|Interrupt)\b.*$", re.M)


def _skip_loudly(message: str) -> None:
    """Skip with ``message`` in the skip summary AND the warnings summary (shown even by ``-q``)."""
    warnings.warn(message, pytest.PytestWarning, stacklevel=2)
    pytest.skip(message)


# --------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def chromium() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _skip_loudly(f"Chromium not found at {CHROMIUM}: install it with `apt-get install chromium` "
                     "to run the browser test")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _skip_loudly("the Python package playwright is missing: install the kit with "
                     "`pip install -e '.[dev]'` (or `make test`) to run the browser test")
    return CHROMIUM


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory) -> Path:
    """A folder with copies of the lessons in ``notebooks/`` (JupyterLab autosaves); they find the
    kit's photos through simlab (package data), wherever they lie."""
    root = tmp_path_factory.mktemp("lab")
    (root / "notebooks").mkdir()
    for name in NOTEBOOKS:
        shutil.copy2(REPO / "notebooks" / name, root / "notebooks" / name)
    return root


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(settings: Path) -> None:
    """Fresh user settings: every cell stays in the DOM, and no news/update pop-ups."""
    files = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none",
                                                                       "scrollPastEnd": False},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "checkForUpdates": False, "fetchNews": "false"},
    }
    for rel, content in files.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))


def _server_log(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@pytest.fixture(scope="module")
def lab_server(lab_root, chromium, tmp_path_factory):
    """JupyterLab from this environment on 127.0.0.1; always shut down, also when a check fails."""
    state = tmp_path_factory.mktemp("lab-state")
    _write_settings(state / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.token={token}", f"--ServerApp.root_dir={lab_root}",
        f"--LabApp.workspaces_dir={state / 'workspaces'}",
        f"--LabApp.user_settings_dir={state / 'settings'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(state / "runtime"))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # `make test` runs other tests beside the lessons: one thread per kernel (PyTorch, FAISS,
        # ONNX Runtime) keeps OpenMP threads from spinning against them. The checked outputs are
        # the same as with the committed notebooks' two threads (compared below).
        env["OMP_NUM_THREADS"] = "1"
    log = state / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=lab_root,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {proc.returncode}:\n{_server_log(log)}")
            try:
                with opener.open(f"{base}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {SERVER_START_TIMEOUT} s:\n{_server_log(log)}")
            time.sleep(0.5)
        yield {"base": base, "token": token, "root": lab_root, "log": log}
    finally:
        _stop(proc, state / "runtime")


def _stop(proc: subprocess.Popen, runtime: Path) -> None:
    """SIGTERM the server (it shuts its kernels down), SIGKILL what is left after 20 s.

    Kernels run in sessions of their own; one still alive afterwards is found by its connection
    file, which lies in this server's private runtime directory.
    """
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(timeout=10)
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(runtime) in cmdline.read_bytes().decode(errors="replace"):
                os.kill(int(cmdline.parent.name), signal.SIGKILL)
        except (OSError, ValueError):
            pass


@pytest.fixture(scope="module")
def browser(chromium, lab_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


# ---------------------------------------------------------------------------------------- helpers
class Deadline:
    def __init__(self, seconds: float, what: str):
        self.end, self.what, self.seconds = time.monotonic() + seconds, what, seconds

    def left_ms(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            pytest.fail(f"{self.what} exceeded its time bound of {self.seconds:.0f} s")
        return left * 1000


def _open_menu_command(page, menu: str, command: str, deadline: Deadline) -> None:
    """Click ``menu`` in the menu bar, then the item bound to JupyterLab command ``command``."""
    timeout = min(15_000, deadline.left_ms())
    page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^{menu}$")).click(timeout=timeout)
    page.locator(f'.lm-Menu li[data-command="{command}"]').first.click(timeout=timeout)


_STATE_JS = """
(panel) => {
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
      .map(p => p.textContent.trim());
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  return {prompts, status: indicator ? indicator.getAttribute('data-status') : null};
}
"""


def _run_all(page, panel, deadline: Deadline) -> list[str]:
    """Edit > Clear Outputs of All Cells, Run > Run All Cells; wait until idle.

    The lessons are committed with outputs: clearing first means every output checked below
    comes from this run. The kernel is the fresh one JupyterLab started when the lesson opened.
    No restart: a restart makes the page reconnect its kernel websocket, and jupyter_server
    (2.21) can then read a message of the closing socket with the wrong protocol
    (``struct.error`` in ``deserialize_binary_message``), after which the page never saw the
    kernel go idle (a CI run failed so).
    """
    _open_menu_command(page, "Edit", "editmenu:clear-all", deadline)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')]"
        ".every(c => !c.querySelector('.jp-OutputArea-output'))", timeout=min(30_000, deadline.left_ms()))
    page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status="idle"]'
                 ).first.wait_for(timeout=min(60_000, deadline.left_ms()))
    _open_menu_command(page, "Run", "runmenu:run-all", deadline)
    started, idle_since = False, None
    while True:
        state = panel.evaluate(_STATE_JS)
        prompts = state["prompts"]
        busy = any("*" in p for p in prompts)
        started = started or busy or any(re.search(r"\d", p) for p in prompts)
        if started and not busy and state["status"] == "idle":
            if all(re.search(r"\d", p) for p in prompts):
                return prompts
            # a cell failed and the rest were not run: idle for a while means the run is over
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 5:
                return prompts
        else:
            idle_since = None
        deadline.left_ms()
        time.sleep(0.5)


def _widget_outputs(panel):
    """Outputs drawn by the ipywidgets front end (its renderer puts a ``.jupyter-widgets`` view in)."""
    return panel.locator(".jp-OutputArea-output:has(> .jupyter-widgets)")


def _dropdown(widget, description: str):
    return widget.locator(".widget-dropdown").filter(
        has=widget.page.locator("label", has_text=re.compile(rf"^{description}$"))).locator("select")


def _other_option(select, *avoid: str) -> str:
    options = select.evaluate("s => [...s.options].map(o => o.value)")
    choice = [o for o in options if o not in avoid]
    assert choice, f"the dropdown offers nothing but {avoid}: {options}"
    return choice[-1]


def _src(img) -> str:
    return img.get_attribute("src") or ""


def _wait_changed(page, get, before: str, what: str, deadline: Deadline, bound: float = 60) -> str:
    end = time.monotonic() + min(bound, deadline.left_ms() / 1000)
    while time.monotonic() < end:
        now = get()
        if now and now != before:
            return now
        page.wait_for_timeout(250)
    pytest.fail(f"{what} did not change within {bound:.0f} s (still {before[:120]!r})")


def _screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True, timeout=30_000)


def _full_notebook_screenshot(page, panel, name: str) -> None:
    """The notebook scrolls inside the page: make the window as tall as the notebook, then shoot."""
    size = page.viewport_size
    height = panel.evaluate(
        "p => { const s = p.querySelector('.jp-WindowedPanel-outer') || p; s.scrollTop = 0;"
        " return s.scrollHeight; }")
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 200, 16000)})
    page.wait_for_timeout(500)
    _screenshot(page, name)
    page.set_viewport_size(size)
    page.wait_for_timeout(300)


def _save(page, nb_path: Path, deadline: Deadline) -> dict:
    """File > Save, then read what JupyterLab wrote: the outputs exactly as the kernel sent them."""
    before = nb_path.stat().st_mtime_ns
    _open_menu_command(page, "File", "docmanager:save", deadline)
    while nb_path.stat().st_mtime_ns == before:
        deadline.left_ms()
        time.sleep(0.25)
    for _ in range(40):  # the file may still be being written
        try:
            return json.loads(nb_path.read_text())
        except json.JSONDecodeError:
            time.sleep(0.25)
    return json.loads(nb_path.read_text())


def _comparable(outputs: list) -> dict:
    """What nbval compares of a cell's outputs: ``{key: [values]}``, stdout joined into one text
    (how a kernel splits a stream into messages varies), stderr, images, widget model ids (random)
    and metadata left out."""
    def text(value) -> str:
        return "".join(value) if isinstance(value, list) else str(value)

    kept: dict[str, list] = {}
    stdout = "".join(text(o.get("text", "")) for o in outputs
                     if o.get("output_type") == "stream" and o.get("name") == "stdout")
    if stdout:
        kept["stdout"] = [stdout]
    for o in outputs:
        if o.get("output_type") == "error":
            kept.setdefault("error", []).append(f"{o.get('ename')}: {o.get('evalue')}")
        for key, value in o.get("data", {}).items():
            if key not in NOT_COMPARED:
                kept.setdefault(key, []).append(text(value))
    return kept


def _checked_outputs_differ(notebook: str, saved: dict) -> list[str]:
    """The cells marked ``# NBVAL_CHECK_OUTPUT`` whose outputs differ from the committed notebook's."""
    committed = json.loads((REPO / "notebooks" / notebook).read_text())
    ran = [c for c in saved["cells"] if c["cell_type"] == "code"]
    reference = [c for c in committed["cells"] if c["cell_type"] == "code"]
    assert len(ran) == len(reference), f"{notebook}: the saved notebook has other cells"
    differ = []
    for i, (new, old) in enumerate(zip(ran, reference, strict=True)):
        if "NBVAL_CHECK_OUTPUT" in "".join(old["source"]):
            got, want = _comparable(new.get("outputs", [])), _comparable(old.get("outputs", []))
            if got != want:
                differ.append(f"code cell {i}:\n{''.join(old['source'])[:300]}\n-- committed: {want}\n"
                              f"-- now: {got}")
    return differ


# ------------------------------------------------------------------------------------------- test
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_lesson_in_jupyterlab(notebook, lab_server, browser):
    deadline = Deadline(TIME_BOUND, f"{notebook} in the browser")
    stem = Path(notebook).stem

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    try:
        # a workspace of its own: the page opens this lesson only, not the tabs of the previous one
        url = (f"{lab_server['base']}/lab/workspaces/{stem}/tree/notebooks/{notebook}"
               f"?token={lab_server['token']}")
        page.goto(url, timeout=deadline.left_ms())
        panel = page.locator(".jp-NotebookPanel:visible")
        panel.locator(".jp-Cell").first.wait_for(timeout=deadline.left_ms())
        page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').first.wait_for(
            timeout=deadline.left_ms())

        t0 = time.monotonic()
        prompts = _run_all(page, panel, deadline)
        run_seconds = time.monotonic() - t0
        print(f"\n{notebook}: all cells ran in {run_seconds:.1f} s through the JupyterLab UI")

        # 1. No error on the page; every code cell ran.
        error_texts = []
        stderr = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
        for out in panel.locator(stderr).all():
            text = out.inner_text()
            if "Traceback" in text or ERROR_LINE.search(text):
                error_texts.append(text[-1500:])
        assert not error_texts, f"{notebook}: a cell shows an error:\n" + "\n---\n".join(error_texts)
        not_run = [i for i, p in enumerate(prompts) if not re.search(r"\d", p)]
        assert not not_run, f"{notebook}: code cells {not_run} did not run (prompts {prompts})"

        # The notebook as JupyterLab saves it (File > Save): the outputs exactly as the kernel sent
        # them. No error output; every code cell has an execution count; the widgets it displays.
        saved = _save(page, lab_server["root"] / "notebooks" / notebook, deadline)
        code = [c for c in saved["cells"] if c["cell_type"] == "code"]
        errors = [f"code cell {i}: {o.get('ename')}: {o.get('evalue')}" for i, c in enumerate(code)
                  for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{notebook}: error outputs: {errors}"
        assert all(c.get("execution_count") for c in code), f"{notebook}: not every code cell ran"
        differ = _checked_outputs_differ(notebook, saved)
        assert not differ, (f"{notebook}: checked outputs differ from the committed ones:\n"
                            + "\n".join(differ))
        checked = sum("NBVAL_CHECK_OUTPUT" in "".join(c["source"]) for c in code)
        print(f"{notebook}: {checked} checked cells print what the committed notebook holds")
        # The teacher's answers earn every point, as nbgrader's autograde scores a cell (an error
        # or any stderr output in a grade cell scores 0): the hidden tests agree with the checks.
        points = [determine_grade(nbformat.from_dict(c)) for c in code
                  if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
        assert points and all(got == most for got, most in points), f"{notebook}: points {points}"
        expected_widgets = sum(WIDGET_MIME in o.get("data", {}) for c in code for o in c.get("outputs", []))
        if any("Explorer(" in "".join(c["source"]) for c in code):
            assert expected_widgets, f"{notebook} builds an explorer but displays no widget"

        # 2. Every widget is drawn by the ipywidgets front end, none is left as text.
        widgets = _widget_outputs(panel)
        texts = [t for t in panel.locator(".jp-OutputArea-output").all_inner_texts()
                 if TEXT_FALLBACK.search(t)]
        assert not texts, (f"{notebook}: widgets shown as text, the front end did not draw them "
                           f"(is jupyterlab_widgets installed?): {texts}")
        assert widgets.count() == expected_widgets, (
            f"{notebook}: {widgets.count()} widgets drawn, the lesson displays {expected_widgets}")
        explorers = []
        for k in range(expected_widgets):
            w = widgets.nth(k)
            w.locator(".jupyter-widgets").first.wait_for(timeout=deadline.left_ms())
            if w.locator(".widget-hprogress").count():  # a tqdm progress bar (lesson 04's embed_folder)
                done = w.inner_text()
                assert re.search(r"\b(\d+)/\1\b", done), f"{notebook}: progress bar {k} stopped: {done!r}"
                continue
            explorers.append(k)
            assert w.locator(".widget-dropdown select").count(), f"{notebook}: widget {k} has no dropdown"
            img = w.locator("img.widget-image").first
            img.wait_for(timeout=deadline.left_ms())
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle(),
                                   timeout=min(30_000, deadline.left_ms()))

        _full_notebook_screenshot(page, panel, f"{stem}.png")

        # 3. The explorers answer the page.
        for n, k in enumerate(explorers):
            w = widgets.nth(k)
            w.scroll_into_view_if_needed(timeout=deadline.left_ms())
            page.wait_for_timeout(300)
            suffix = f"-{n + 1}" if n else ""
            _screenshot(page, f"{stem}-explorer{suffix}.png")
            img = w.locator("img.simlab-figure").first  # the picture every control redraws
            info = w.locator(".widget-html").first
            if w.locator(".widget-slider").count():  # FeatureMapExplorer: image, stage, channel
                stage = _dropdown(w, "stage")
                new = _other_option(stage, stage.input_value())
                before = _src(img)
                stage.select_option(new)
                _wait_changed(page, lambda img=img: _src(img), before, "the feature-map figure", deadline)
                page.wait_for_function(
                    "([el, s]) => el.textContent.includes(`| ${s} |`)",
                    arg=[info.element_handle(), new], timeout=min(60_000, deadline.left_ms()))
                print(f"{notebook}: stage -> {new}: figure redrawn; {info.inner_text()}")
            else:  # PairSimilarityExplorer: left, right, stage, metric
                left, right = _dropdown(w, "left"), _dropdown(w, "right")
                new = _other_option(right, right.input_value(), left.input_value())
                before_info, before_img = info.inner_text(), _src(img)
                right.select_option(new)
                after = _wait_changed(page, lambda info=info: info.inner_text(), before_info,
                                      "the similarity score", deadline)
                assert f"vs {new} |" in after, f"{notebook}: the score line does not name {new}: {after}"
                _wait_changed(page, lambda img=img: _src(img), before_img, "the pair figure", deadline)
                print(f"{notebook}: right -> {new}: {before_info!r} -> {after!r}")
            page.wait_for_timeout(500)
            _screenshot(page, f"{stem}-explorer{suffix}-after.png")

        print(f"{notebook}: done in {TIME_BOUND - deadline.left_ms() / 1000:.1f} s "
              f"({expected_widgets} widget(s) drawn)")
        # File > Close and Shut Down Notebook: frees the kernel (a torch process) for the next lesson
        _open_menu_command(page, "File", "filemenu:close-and-cleanup", deadline)
        page.locator(".jp-Dialog button.jp-mod-accept").click(timeout=min(15_000, deadline.left_ms()))
        page.locator(".jp-NotebookPanel").first.wait_for(state="detached",
                                                         timeout=min(15_000, deadline.left_ms()))
    except BaseException:
        try:
            html = page.locator(".jp-NotebookPanel:visible").inner_html(timeout=5_000)
            (SCREENSHOTS / f"{stem}-failure.html").write_text(html)
        except Exception:
            pass
        try:
            _screenshot(page, f"{stem}-failure.png")
        except Exception:
            pass
        if console_errors:
            print("browser console errors:\n" + "\n".join(console_errors[-20:]))
        print(f"server log:\n{_server_log(lab_server['log'])}")
        raise
    finally:
        context.close()
