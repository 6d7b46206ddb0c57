"""The page in a real browser: Debian's headless Chromium driven by Playwright.

A server (``python -m ecosim.app``, the ``ecosim-app`` command) runs on a free loopback port
with its runs under a temporary directory. The tests change a parameter, see an invalid value
refused with the schema's message, run a small market to the end, compare two arms of an
experiment, download the deck, run two tabs at once, cancel a run and see a failing run's
error on the page. A screenshot of each state is saved under ``app_screenshots`` in pytest's
temporary directory (printed at the end of the module) and checked not to be blank.

Without Chromium (``/usr/bin/chromium``) or Playwright the module is skipped, unless ``CI`` is
set: then it fails (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
#: Seconds a run of a small market may take (simulation, figures, report and deck).
RUN_SECONDS = 180


def _missing(reason: str) -> None:
    """Skip, or fail when ``CI`` is set (CI installs what the test needs)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the browser test must run)")
    pytest.skip(reason)


if not Path(CHROMIUM).is_file():
    _missing("Chromium is not installed (apt-get install chromium)")
try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:
    _missing("Playwright is not installed (pip install -e '.[app]')")
    raise

from ecosim.app.page import css_name  # noqa: E402
from ecosim.config import load_config  # noqa: E402
from ecosim.report.deck import check_run_dir  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("app_results")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("app_screenshots")
    yield folder
    print(f"\nscreenshots of the page: {folder}")


@pytest.fixture(scope="module")
def server(results: Path) -> Iterator[str]:
    """The page's server, started as ``ecosim-app`` would be; its URL."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    log = results / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ecosim.app", "--port", str(port), "--results", str(results)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the page's server did not start:\n{log.read_text()}")
            time.sleep(0.3)
        assert f"the page is at {url}" in log.read_text()  # the command prints its URL
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser, server):
    """A browser context that records every request leaving this machine and every error."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
    problems: list[str] = []
    local = ("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:", "about:")

    def check(route) -> None:
        if route.request.url.startswith(local):
            route.continue_()
        else:  # the page must work offline: nothing from a CDN
            problems.append(f"external request {route.request.url}")
            route.abort()

    ctx.route("**/*", check)
    ctx.on("response", lambda response: problems.append(f"{response.status} {response.url}")
           if response.status >= 400 else None)
    yield ctx
    ctx.close()
    assert not problems, problems


def open_page(context, server: str) -> Page:
    page = context.new_page()
    page.goto(server)
    field(page, "customers.n").wait_for(timeout=90_000)
    page.locator(".ecosim-run-button").wait_for(timeout=30_000)  # the whole form is drawn
    return page


def field(page: Page, key: str):
    """The text box of a config key."""
    return page.locator(f".{css_name(key)} input")


def type_into(page: Page, key: str, text: str) -> None:
    box = field(page, key)
    box.fill(text)
    box.press("Enter")


def choose(page: Page, css: str, option: str) -> None:
    """Pick ``option`` in the Vuetify select with class ``css``."""
    page.locator(f".{css} .v-select__slot").click()
    page.locator(".menuable__content__active .v-list-item", has_text=option).first.click()


def message_of(page: Page, key: str):
    return page.locator(f".{css_name(key)} .v-messages__message")


def run(page: Page, name: str = "") -> None:
    if name:
        box = page.locator(".ecosim-run-name input")
        box.fill(name)
        box.press("Enter")
    page.locator(".ecosim-run-button").click()


def wait_done(page: Page) -> str:
    done = page.locator(".ecosim-run-done, .ecosim-run-error, .ecosim-run-cancelled").first
    done.wait_for(timeout=RUN_SECONDS * 1000)
    text = done.inner_text()
    assert "Run complete" in text, text
    return text


def shoot(target, path: Path) -> Path:
    """A screenshot of a page or an element, checked not to be blank."""
    if hasattr(target, "scroll_into_view_if_needed"):
        target.scroll_into_view_if_needed()
    target.screenshot(path=str(path))
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("L"))
    levels, counts = np.unique(pixels, return_counts=True)
    drawn = 1.0 - counts.max() / pixels.size  # share of pixels off the background colour
    # a blank or one-colour image has no drawn pixels and a handful of grey levels; a page
    # with text and charts has antialiased edges in dozens of levels
    assert drawn > 0.02, f"{path.name} is blank ({100 * drawn:.2f} % of pixels drawn)"
    assert len(levels) >= 32, f"{path.name} has {len(levels)} grey levels only"
    return path


def test_edit_refuse_run_and_download_the_deck(context, server, results, shots) -> None:
    page = open_page(context, server)
    shoot(page, shots / "01_loaded.png")
    # an invalid value is refused with the schema's one line, next to its field
    type_into(page, "customers.n", "-5")
    expect(message_of(page, "customers.n")).to_have_text(
        "customers.n: -5 is not allowed; expected an integer >= 1", timeout=20_000)
    shoot(page.locator(".ecosim-form"), shots / "02_invalid_value.png")
    # the default market raises the bank's prices in month 24: a 12-month horizon is refused
    type_into(page, "time.horizon", "12")
    expect(message_of(page, "time.horizon")).to_contain_text(
        "events[0].step: 24 is not allowed; expected a step in [1, 12]", timeout=20_000)
    # changed parameters: a small market
    type_into(page, "customers.n", "2000")
    expect(message_of(page, "customers.n")).to_have_count(0, timeout=20_000)
    type_into(page, "time.horizon", "26")
    expect(message_of(page, "time.horizon")).to_have_count(0, timeout=20_000)
    page.get_by_text("Firm bank", exact=True).click()
    type_into(page, "firms.bank.offerings.banking.price_index", "1.1")
    # a bundle needs its bundled needs: refused, the model stays
    choose(page, css_name("firms.bank.model"), "bundle")
    expect(page.locator(f".{css_name('firms.bank.model')}-error")).to_contain_text(
        "firms.bank.bundle.needs: [] is not allowed; expected at least min_products (2) offered "
        "needs", timeout=20_000)
    expect(page.locator(f".{css_name('firms.bank.model')}")).to_contain_text("ecosystem")
    # the telecom becomes an ecosystem: its ecosystem switches appear
    page.get_by_text("Firm telecom", exact=True).click()
    choose(page, css_name("firms.telecom.model"), "ecosystem")
    type_into(page, "firms.telecom.ecosystem.context_reach", "0.2")
    expect(field(page, "firms.telecom.ecosystem.context_reach")).to_have_value("0.2")
    shoot(page.locator(".ecosim-form"), shots / "03_changed_parameters.png")
    run(page, "small_market")
    text = wait_done(page)
    run_dir = results / "small_market"
    assert str(run_dir) in text
    charts = page.locator(".ecosim-charts img")
    expect(charts).to_have_count(6, timeout=60_000)
    shoot(page.locator(".ecosim-results"), shots / "04_run_finished_charts.png")
    # an ordinary run directory, with the edits in its config
    check_run_dir(run_dir)
    cfg = load_config(yaml.safe_load((run_dir / "config.yaml").read_text()))
    assert (cfg.customers.n, cfg.time.horizon) == (2000, 26)
    assert cfg.firms["bank"].model == "ecosystem"
    assert cfg.firms["bank"].offerings["banking"].price_index == 1.1
    assert cfg.firms["telecom"].model == "ecosystem"
    assert cfg.firms["telecom"].ecosystem.context_reach == 0.2
    assert "customers.n=2000" in json.loads((run_dir / "metadata.json").read_text())["overrides"]
    # the deck downloads as a real .pptx
    with page.expect_download(timeout=60_000) as download:
        page.get_by_text("Download deck.pptx").click()
    deck = shots / "deck.pptx"
    download.value.save_as(deck)
    assert zipfile.is_zipfile(deck)
    from pptx import Presentation

    slides = Presentation(str(deck)).slides
    assert len(slides) >= 3
    assert deck.read_bytes() == (run_dir / "deck.pptx").read_bytes()
    shoot(page.locator(".ecosim-download"), shots / "05_downloads.png")


EXPERIMENT = {
    "defaults": ["ecosim", "_self_"],
    "seed": 5, "replications": 3, "time": {"horizon": 12},
    "customers": {"n": 2000, "segments": {"all": {"openness": {"dist": "beta", "a": 2, "b": 5}}},
                  "lifecycle": {"kind": "contractual", "hazard": {"dist": "fixed",
                                                                   "value": 0.03}}},
    "needs": {"x": {"basket": {"dist": "lognormal", "mean": 3.0, "sd": 0.5}}},
    "firms": {"a": {"offerings": {"x": {"quality": 0.5}}, "initial_share": {"x": 0.3},
                    "initial_awareness": 0.5, "marketing": {"budget": 400.0, "reach_cost": 1.0}},
              "b": {"offerings": {"x": {"quality": 0.4}}, "initial_share": {"x": 0.3},
                    "initial_awareness": 0.5, "marketing": {"budget": 400.0, "reach_cost": 1.0}}},
    "experiment": {"name": "price_cut", "question": "Does a 20 % price cut win customers?",
                   "focus_firm": "a", "kpis": ["customers", "cum_revenue"],
                   "arms": {"list_price": {}, "price_cut": {"firms.a.offerings.x.price_index":
                                                            0.8}},
                   "labels": {"list_price": "List price", "price_cut": "Price cut 20 %"},
                   "headline": {"kind": "effect", "kpi": "customers", "arm": "price_cut",
                                "label": "customers the price cut wins"},
                   "assumptions": {"reach": {"label": "marketing reach", "low": 0.5, "high": 2.0,
                                             "keys": ["firms.a.marketing.budget"],
                                             "scale": True, "source": "[argued] a test"}},
                   "robustness": {"replications": 2}},
}


def test_compare_two_arms_of_an_experiment(context, server, results, shots,
                                           tmp_path: Path) -> None:
    path = tmp_path / "price_cut.yaml"
    path.write_text(yaml.safe_dump(EXPERIMENT, sort_keys=False))
    broken = tmp_path / "broken.yaml"
    broken.write_text("defaults: [ecosim, _self_]\nfirms: {a: [1,\n")
    page = open_page(context, server)
    choose(page, "ecosim-source-kind", "config file")
    box = page.locator(".ecosim-source-file input")
    box.fill(str(broken))  # a file that is not YAML says where, on one line
    box.press("Enter")
    page.locator(".ecosim-load").click()
    expect(page.locator(".ecosim-load-error")).to_contain_text(
        f"{broken}:3:1: expected the node content", timeout=30_000)
    box.fill(str(path))
    box.press("Enter")
    page.locator(".ecosim-load").click()
    expect(page.locator(".ecosim-loaded")).to_have_text(f"Loaded: config file {path}",
                                                        timeout=30_000)
    expect(field(page, "customers.n")).to_have_value("2000", timeout=30_000)
    page.locator(f".{css_name('robustness')} label").click()  # and the tornado of its assumption
    run(page, "price_cut")
    wait_done(page)
    table = page.locator(".ecosim-compare-table")
    expect(table).to_contain_text("List price", timeout=60_000)
    expect(table).to_contain_text("Price cut 20 %")
    expect(table).to_contain_text("baseline")
    summary = __import__("pandas").read_csv(results / "price_cut" / "summary.csv")
    row = summary[(summary["arm"] == "price_cut") & (summary["firm"] == "a")
                  & (summary["kpi"] == "customers")].iloc[0]
    assert row["n"] == 3 and row["ci_low"] < row["mean"] < row["ci_high"]
    from ecosim.report.labels import format_interval

    expect(table).to_contain_text(format_interval("customers", row["ci_low"], row["ci_high"]))
    robustness = page.locator(".ecosim-robustness")
    expect(robustness).to_contain_text("Headline: customers the price cut wins")
    expect(robustness).to_contain_text("tornado")
    assert (results / "price_cut" / "robustness.csv").is_file()
    shoot(page.locator(".ecosim-compare"), shots / "06_compare_two_arms.png")
    # another tab opens the finished run directory and sees the same comparison
    other = open_page(context, server)
    box = other.locator(".ecosim-open-dir input")
    box.fill("no_such_run")
    box.press("Enter")
    other.locator(".ecosim-open-button").click()
    expect(other.locator(".ecosim-open-error")).to_contain_text(
        f"{results / 'no_such_run'} is not a directory", timeout=20_000)
    # paths outside the results directory are refused, for a run and for opening one
    box.fill("/etc")
    box.press("Enter")
    other.locator(".ecosim-open-button").click()
    expect(other.locator(".ecosim-open-error")).to_contain_text(
        f"run directory: '/etc' is not allowed; expected a folder under {results.resolve()}",
        timeout=20_000)
    run(other, "../escape")
    expect(other.locator(".ecosim-run-error")).to_contain_text(
        f"run name: '../escape' is not allowed; expected a folder name under "
        f"{results.resolve()}", timeout=20_000)
    assert not (results.parent / "escape").exists()
    box.fill(str(results / "price_cut"))
    box.press("Enter")
    other.locator(".ecosim-open-button").click()
    expect(other.locator(".ecosim-compare-table")).to_contain_text("Price cut 20 %",
                                                                   timeout=60_000)
    expect(other.locator(".ecosim-robustness")).to_contain_text("tornado")


def test_two_tabs_keep_their_own_runs(context, server, results, shots) -> None:
    first, second = open_page(context, server), open_page(context, server)
    for page, n in ((first, "2100"), (second, "2300")):
        type_into(page, "customers.n", n)
        type_into(page, "time.horizon", "25")
        expect(message_of(page, "time.horizon")).to_have_count(0, timeout=20_000)
    run(first, "tab_one")
    run(second, "tab_two")
    assert "tab_one" in wait_done(first) and "tab_one" not in wait_done(second)
    assert "tab_two" in second.locator(".ecosim-run-done").inner_text()
    expect(field(first, "customers.n")).to_have_value("2100")
    expect(field(second, "customers.n")).to_have_value("2300")
    for name, n in (("tab_one", 2100), ("tab_two", 2300)):
        cfg = load_config(yaml.safe_load((results / name / "config.yaml").read_text()))
        assert cfg.customers.n == n
    shoot(first, shots / "07_tab_one.png")
    shoot(second, shots / "08_tab_two.png")


def test_cancel_and_a_failing_run_show_on_the_page(context, server, results, shots) -> None:
    page = open_page(context, server)
    # a long run (the default market) shows its progress bar and stops on cancel
    run(page, "to_cancel")
    message = page.locator(".ecosim-run-message")
    expect(message).to_contain_text(re.compile(r"simulating: [1-9]\d* % of the steps"),
                                     timeout=120_000)
    bar = page.locator(".ecosim-progress")
    expect(bar).to_be_visible()
    assert 0 < float(bar.get_attribute("aria-valuenow")) < 100
    shoot(page.locator(".ecosim-run"), shots / "09_progress.png")
    page.locator(".ecosim-cancel").click()
    expect(page.locator(".ecosim-run-cancelled")).to_contain_text("Run cancelled",
                                                                  timeout=60_000)
    assert not (results / "to_cancel").exists()
    expect(page.locator(".ecosim-run-button")).to_be_enabled()
    # a run that fails says why on the page
    (results / "blocker").write_text("a file where the run's folder should go")
    type_into(page, "customers.n", "2000")
    run(page, "blocker/run")
    error = page.locator(".ecosim-run-error")
    expect(error).to_contain_text(
        f"Run failed: cannot write the output directory {results / 'blocker' / 'run'}: "
        "Not a directory", timeout=60_000, use_inner_text=True)
    expect(page.locator(".ecosim-run-button")).to_be_enabled()
    shoot(page.locator(".ecosim-run"), shots / "10_failed_run.png")
