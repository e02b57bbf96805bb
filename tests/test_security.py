"""Security of the served app: headers, CSP, /health, basic auth, bind check.

Most tests drive a real Dash app through Flask's test client. The browser tests load it
in headless Chromium with the CSP enforced and prove Dash's own scripts satisfy it (no
console errors, no ``securitypolicyviolation`` events). Each app-level test runs on a
small app built here and again on ``dashboard.app.create_app`` (skipped until it exists).
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dash
import dash_ag_grid as dag
import plotly.graph_objects as go
import pytest
from dash import Input, Output, dcc, html
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.serving import make_server

from dashboard import __version__
from dashboard.datadir import SHIPPED_DATA_DIR
from dashboard.security import (
    ENV_AUTH,
    ENV_HTPASSWD,
    Auth,
    SecurityConfigError,
    check_bind,
    hash_password,
    htpasswd_entry,
    install_security,
    load_auth,
    security_installed,
)
from dashboard.snapshot import CHROMIUM_ARGS as SNAPSHOT_CHROMIUM_ARGS

USER = "alice"
PASSWORD = "correct horse battery staple"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = list(SNAPSHOT_CHROMIUM_ARGS)  # one list of flags: dashboard.snapshot


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def alice_hash() -> str:
    """One scrypt hash for the module (each costs ~0.1 s)."""
    return hash_password(PASSWORD)


@pytest.fixture
def auth(alice_hash: str) -> Auth:
    return Auth({USER: alice_hash})


@pytest.fixture(autouse=True)
def _no_auth_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own RECRUITMENT_DASHBOARD_* variables must not leak into tests."""
    monkeypatch.delenv(ENV_AUTH, raising=False)
    monkeypatch.delenv(ENV_HTPASSWD, raising=False)


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def build_minimal_app(assets: Path) -> dash.Dash:
    """A Graph fed by a server callback, a clientside callback (an inline script the CSP
    must hash), an AG Grid (injects its theme as <style>) and one CSS asset."""
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "site.css").write_text("body { margin: 0; }\n")
    app = dash.Dash(__name__, assets_folder=str(assets))
    app.layout = html.Div(
        [
            dcc.Dropdown(["Lyon", "Paris"], "Lyon", id="site"),
            dcc.Graph(id="accrual"),
            html.Div(id="echo"),
            dag.AgGrid(
                id="grid",
                rowData=[{"site": "Lyon", "randomized": 3}],
                columnDefs=[{"field": "site"}, {"field": "randomized"}],
            ),
        ]
    )

    @app.callback(Output("accrual", "figure"), Input("site", "value"))
    def accrual(site: str) -> go.Figure:
        return go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 4], name=site))

    app.clientside_callback(
        "function(site) { return 'site: ' + site; }",
        Output("echo", "children"),
        Input("site", "value"),
    )
    return app


def load_create_app() -> Callable[..., dash.Dash]:
    """``dashboard.app.create_app``, or skip while that module is not written yet."""
    try:
        module = importlib.import_module("dashboard.app")
    except ModuleNotFoundError as exc:
        if exc.name == "dashboard.app":
            pytest.skip("dashboard.app does not exist yet")
        raise
    return module.create_app


@pytest.fixture(scope="module", params=["minimal", "create_app"])
def secured_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, alice_hash: str
) -> Iterator[dash.Dash]:
    """A real app with security installed and alice as the only user (one per module:
    building the dashboard loads the data dir, and the tests only read from the app).

    For ``create_app`` the entry is also put in the environment, so the tests hold whether
    the factory installs security itself (from ``load_auth()``) or leaves it to the caller.
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv(ENV_HTPASSWD, raising=False)
        monkeypatch.delenv(ENV_AUTH, raising=False)
        if request.param == "minimal":
            app = build_minimal_app(tmp_path_factory.mktemp("minimal") / "assets")
        else:
            create_app = load_create_app()
            monkeypatch.setenv(ENV_AUTH, f"{USER}:{alice_hash}")
            data_dir = tmp_path_factory.mktemp("dashboard") / "data"
            shutil.copytree(
                SHIPPED_DATA_DIR,
                data_dir,
                ignore=shutil.ignore_patterns(".lock", "*.tmp", "import-log.jsonl"),
            )
            app = create_app(data_dir=data_dir)
        if not security_installed(app):
            install_security(app, auth=Auth({USER: alice_hash}))
        yield app


@pytest.fixture
def open_app(tmp_path: Path) -> dash.Dash:
    app = build_minimal_app(tmp_path / "assets")
    install_security(app, auth=None)
    return app


def inline_scripts(page: str) -> list[str]:
    """Bodies of the page's executable inline scripts.

    JSON data blocks are not run, nor is Dash's IE warning inside an ``<!--[if IE]>`` comment.
    """
    page = re.sub(r"<!--.*?-->", "", page, flags=re.S)
    scripts = []
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S):
        if "src=" in attrs or "application/json" in attrs:
            continue
        scripts.append(body)
    return scripts


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def component_suite_url(page: str) -> str:
    match = re.search(r'src="(/_dash-component-suites/[^"]+)"', page)
    assert match, "no component suite script on the page"
    return match.group(1)


# --------------------------------------------------------------------------- headers
def test_csp_allows_exactly_the_inline_scripts_of_the_page(secured_app: dash.Dash) -> None:
    client = secured_app.server.test_client()
    response = client.get("/", headers=basic(USER, PASSWORD))
    assert response.status_code == 200
    csp = csp_directives(response.headers["Content-Security-Policy"])
    scripts = inline_scripts(response.get_data(as_text=True))
    assert scripts, "Dash renders at least its renderer bootstrap inline"
    for body in scripts:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp["script-src"]
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "'unsafe-eval'" not in csp["script-src"]


def test_csp_directives(secured_app: dash.Dash) -> None:
    client = secured_app.server.test_client()
    csp = csp_directives(
        client.get("/", headers=basic(USER, PASSWORD)).headers["Content-Security-Policy"]
    )
    assert csp["default-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'", "'unsafe-inline'"]
    assert csp["img-src"] == ["'self'", "data:", "blob:"]
    assert csp["font-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]


def test_clientside_callbacks_registered_after_install_are_hashed(open_app: dash.Dash) -> None:
    open_app.clientside_callback(
        "function(site) { return site; }", Output("echo", "title"), Input("site", "value")
    )
    page = open_app.server.test_client().get("/")
    script_src = csp_directives(page.headers["Content-Security-Policy"])["script-src"]
    for body in inline_scripts(page.get_data(as_text=True)):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src


@pytest.mark.parametrize("path", ["/", "/_dash-layout", "/_dash-dependencies", "/health"])
def test_security_headers_on_every_response(secured_app: dash.Dash, path: str) -> None:
    response = secured_app.server.test_client().get(path, headers=basic(USER, PASSWORD))
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_callback_responses_are_not_stored(open_app: dash.Dash) -> None:
    body = {
        "output": "accrual.figure",
        "outputs": {"id": "accrual", "property": "figure"},
        "inputs": [{"id": "site", "property": "value", "value": "Paris"}],
        "changedPropIds": ["site.value"],
        "state": [],
    }
    response = open_app.server.test_client().post("/_dash-update-component", json=body)
    assert response.status_code == 200
    assert '"Paris"' in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" in response.headers


def test_static_files_stay_cacheable_but_private_behind_auth(secured_app: dash.Dash) -> None:
    client = secured_app.server.test_client()
    page = client.get("/", headers=basic(USER, PASSWORD)).get_data(as_text=True)
    suite = client.get(component_suite_url(page), headers=basic(USER, PASSWORD))
    assert suite.status_code == 200
    assert suite.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in suite.headers.get("Cache-Control", "")
    assert "public" not in suite.headers.get("Cache-Control", "")


# --------------------------------------------------------------------------- /health
def test_health_is_public_and_says_nothing_about_the_trial(secured_app: dash.Dash) -> None:
    response = secured_app.server.test_client().get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "version": __version__}
    assert secured_app.server.test_client().head("/health").status_code == 200


def test_health_refuses_post(open_app: dash.Dash) -> None:
    assert open_app.server.test_client().post("/health").status_code == 405


# --------------------------------------------------------------------------- basic auth
@pytest.mark.parametrize(
    "path",
    ["/", "/_dash-layout", "/_dash-dependencies", "/assets/site.css", "/no/such/page", "/health/"],
)
def test_every_route_but_health_needs_credentials(tmp_path: Path, auth: Auth, path: str) -> None:
    app = build_minimal_app(tmp_path / "assets")
    install_security(app, auth=auth)
    client = app.server.test_client()
    response = client.get(path)
    assert response.status_code == 401
    assert (
        response.headers["WWW-Authenticate"]
        == 'Basic realm="Recruitment dashboard", charset="UTF-8"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" in response.headers
    assert client.get(path, headers=basic(USER, PASSWORD)).status_code in (200, 404)


def test_component_suites_and_callbacks_need_credentials(secured_app: dash.Dash) -> None:
    client = secured_app.server.test_client()
    page = client.get("/", headers=basic(USER, PASSWORD)).get_data(as_text=True)
    assert client.get(component_suite_url(page)).status_code == 401
    # A callback that looks like a routing callback for the public /health path is still
    # refused: the exemption is the /health endpoint, never a path found in a request body.
    body = {
        "output": "x.children",
        "outputs": {"id": "x", "property": "children"},
        "inputs": [{"id": "url", "property": "pathname", "value": "/health"}],
        "changedPropIds": ["url.pathname"],
        "state": [],
    }
    assert client.post("/_dash-update-component", json=body).status_code == 401


def test_correct_credentials_are_accepted(secured_app: dash.Dash) -> None:
    client = secured_app.server.test_client()
    assert client.get("/", headers=basic(USER, PASSWORD)).status_code == 200
    # again, now answered from the verified-credentials memo
    assert client.get("/_dash-layout", headers=basic(USER, PASSWORD)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        basic(USER, "wrong"),
        basic(USER, PASSWORD + " "),
        basic("mallory", PASSWORD),
        basic("", PASSWORD),
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    ],
    ids=[
        "wrong-password",
        "trailing-space",
        "unknown-user",
        "empty-user",
        "bearer",
        "garbage",
        "no-colon",
    ],
)
def test_bad_credentials_get_401(secured_app: dash.Dash, headers: dict[str, str]) -> None:
    client = secured_app.server.test_client()
    assert client.get("/", headers=basic(USER, PASSWORD)).status_code == 200  # fill the memo
    response = client.get("/", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_without_auth_the_app_is_open(open_app: dash.Dash) -> None:
    assert open_app.server.test_client().get("/").status_code == 200


def test_install_twice_is_refused(open_app: dash.Dash) -> None:
    assert security_installed(open_app)
    with pytest.raises(RuntimeError, match="already"):
        install_security(open_app, auth=None)


def test_auth_verify_is_exact(auth: Auth) -> None:
    assert auth.verify(USER, PASSWORD)
    assert not auth.verify(USER, PASSWORD.upper())
    assert not auth.verify("bob", PASSWORD)


def test_auth_repr_hides_hashes(auth: Auth, alice_hash: str) -> None:
    assert alice_hash not in repr(auth)
    assert USER in repr(auth)


# --------------------------------------------------------------------------- passwords
def test_hash_password_is_salted_werkzeug_scrypt() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first.startswith("scrypt:")
    assert first != second
    assert check_password_hash(first, "s3cret")
    assert not check_password_hash(first, "s3creT")


def test_hash_password_refuses_empty() -> None:
    with pytest.raises(ValueError):
        hash_password("")


def test_htpasswd_entry_round_trips_through_load_auth(tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(htpasswd_entry("bob", "pw-bob") + "\n")
    loaded = load_auth(htpasswd)
    assert loaded is not None and loaded.verify("bob", "pw-bob")


@pytest.mark.parametrize("username", ["", "a:b", "with space"])
def test_htpasswd_entry_refuses_bad_user_names(username: str) -> None:
    with pytest.raises(SecurityConfigError):
        htpasswd_entry(username, "pw")


def test_the_passwd_command_prints_an_entry() -> None:
    """The one password command: prompts twice, prints only the htpasswd line on stdout."""
    from click.testing import CliRunner

    from dashboard.cli import main

    result = CliRunner().invoke(main, ["passwd", "carol"], input="pw-carol\npw-carol\n")
    assert result.exit_code == 0, result.output
    line = result.stdout.strip().splitlines()[-1]
    loaded = load_auth(env={ENV_AUTH: line})
    assert loaded is not None and loaded.verify("carol", "pw-carol")


# --------------------------------------------------------------------------- load_auth
def test_load_auth_is_none_when_nothing_is_configured() -> None:
    assert load_auth(env={}) is None
    assert load_auth(env={ENV_AUTH: "  ", ENV_HTPASSWD: ""}) is None


def test_load_auth_reads_an_htpasswd_file(tmp_path: Path, alice_hash: str) -> None:
    bob_hash = generate_password_hash("pw-bob", method="pbkdf2:sha256:1000")
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"# dashboard users\n\n{USER}:{alice_hash}\nbob:{bob_hash}\n")
    for loaded in (load_auth(htpasswd, env={}), load_auth(env={ENV_HTPASSWD: str(htpasswd)})):
        assert loaded is not None
        assert sorted(loaded.users) == ["alice", "bob"]
        assert loaded.verify("bob", "pw-bob")
        assert loaded.source == str(htpasswd)


def test_load_auth_reads_a_single_entry_from_the_environment(alice_hash: str) -> None:
    loaded = load_auth(env={ENV_AUTH: f"{USER}:{alice_hash}"})
    assert loaded is not None and loaded.verify(USER, PASSWORD)


def test_file_argument_wins_over_the_environment(tmp_path: Path, alice_hash: str) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"{USER}:{alice_hash}\n")
    env = {ENV_HTPASSWD: str(tmp_path / "missing"), ENV_AUTH: f"bob:{alice_hash}"}
    loaded = load_auth(htpasswd, env=env)
    assert loaded is not None and list(loaded.users) == [USER]


def test_both_variables_set_is_refused(tmp_path: Path, alice_hash: str) -> None:
    env = {ENV_HTPASSWD: str(tmp_path / "htpasswd"), ENV_AUTH: f"{USER}:{alice_hash}"}
    with pytest.raises(SecurityConfigError, match="only one"):
        load_auth(env=env)


@pytest.mark.parametrize(
    "entry",
    [
        "alice:hunter2",
        "alice:pbkdf2",
        "alice:scrypt$salt$nothex",
        "alice:$2y$05$c4WoMPo3SXsafkva.HHa6uXQZWr7oboPiC2bT/r7q1BB8I2s0BRqC",
        "alice:$apr1$salt$hash",
        "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
        "alice:",
    ],
    ids=["plaintext", "method-only", "not-hex", "bcrypt", "apr1", "sha", "empty"],
)
def test_anything_but_a_werkzeug_hash_is_refused(tmp_path: Path, entry: str) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(entry + "\n")
    for source in ({"htpasswd_file": htpasswd, "env": {}}, {"env": {ENV_AUTH: entry}}):
        with pytest.raises(SecurityConfigError) as caught:
            load_auth(**source)
        message = str(caught.value)
        assert "recruitment-dashboard passwd" in message  # says how to make a hash
        secret = entry.partition(":")[2]
        if secret:
            assert secret not in message  # a plaintext password is never echoed


def test_plaintext_refused_when_building_auth_directly() -> None:
    with pytest.raises(SecurityConfigError, match="plaintext"):
        Auth({USER: "hunter2"})


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "Cannot read"), ("# nobody\n", "no users"), ("no-colon-here\n", "USER:HASH")],
)
def test_broken_htpasswd_files_are_refused(
    tmp_path: Path, content: str | None, message: str
) -> None:
    htpasswd = tmp_path / "htpasswd"
    if content is not None:
        htpasswd.write_text(content)
    with pytest.raises(SecurityConfigError, match=message):
        load_auth(htpasswd, env={})


def test_duplicate_users_are_refused(tmp_path: Path, alice_hash: str) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"{USER}:{alice_hash}\n{USER}:{alice_hash}\n")
    with pytest.raises(SecurityConfigError, match="twice"):
        load_auth(htpasswd, env={})


# --------------------------------------------------------------------------- check_bind
@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.1.1", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"]
)
def test_loopback_binds_need_no_auth(host: str) -> None:
    check_bind(host, None)


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "::", "[::]", "", "192.168.1.10", "10.0.0.5", "example.org", "localhost.evil.org"],
)
def test_public_binds_without_auth_are_refused(host: str) -> None:
    with pytest.raises(SecurityConfigError) as caught:
        check_bind(host, None)
    message = str(caught.value)
    assert ENV_HTPASSWD in message
    assert ENV_AUTH in message
    assert "recruitment-dashboard passwd" in message


def test_public_bind_with_auth_is_allowed(auth: Auth) -> None:
    check_bind("0.0.0.0", auth)


# --------------------------------------------------------------------------- browser
@contextmanager
def serving(app: dash.Dash) -> Iterator[str]:
    """The app on a free loopback port, in a thread, for the test's duration."""
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join()


# Chromium logs a blocked inline script to the console but a blocked eval() only as a
# securitypolicyviolation event (seen with scattergl), so both are watched.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(
        {directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample});
});
"""

DASH_SETTLED = """
() => {
    const graphs = [...document.querySelectorAll('.js-plotly-plot')];
    return graphs.length > 0
        && graphs.every((g) => g.querySelector('.main-svg'))
        && document.querySelectorAll('[data-dash-is-loading="true"]').length === 0;
}
"""


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")
def test_dash_runs_under_the_csp_in_chromium(secured_app: dash.Dash) -> None:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with serving(secured_app) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                http_credentials={"username": USER, "password": PASSWORD, "send": "always"}
            )
            page = context.new_page()
            page.on(
                "console",
                lambda msg: (
                    problems.append(f"console {msg.type}: {msg.text}")
                    if msg.type == "error" or "Content Security Policy" in msg.text
                    else None
                ),
            )
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.add_init_script(RECORD_CSP_VIOLATIONS)

            response = page.goto(url)
            assert response is not None and response.status == 200
            assert "script-src" in response.headers["content-security-policy"]
            page.wait_for_function(DASH_SETTLED)
            page.wait_for_load_state("networkidle")

            violations = page.evaluate("window.__cspViolations")
            assert violations == [], json.dumps(violations, indent=1)
            assert problems == []

            # Control: the policy is enforced (an unhashed inline script does not run) and
            # the listener does see violations, so the empty list above means something.
            ran = page.evaluate(
                """() => {
                    const script = document.createElement('script');
                    script.textContent = 'window.__injectedRan = true;';
                    document.head.appendChild(script);
                    return window.__injectedRan === true;
                }"""
            )
            assert ran is False
            page.wait_for_function(
                "window.__cspViolations.some((v) => v.directive.startsWith('script-src'))"
            )
        finally:
            browser.close()
