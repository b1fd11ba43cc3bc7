""".env.example lists every setting the code reads from the environment, each with a comment saying what it means,
in a form both readers of .env parse the same way (django-environ in config/settings.py, docker compose)."""

import ast
from pathlib import Path

import environ

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / ".env.example"

# Where the settings read the environment: settings.py through django-environ (env.str/int/…("NAME")), and the
# Stripe settings through stripe_settings()'s get("NAME") on os.environ.
ENV_READERS = {
    ROOT / "config" / "settings.py": {"env"},
    ROOT / "payments" / "stripe_mode.py": {"get"},
}


def names_read(path: Path, readers: set[str]) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        is_reader = (
            (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in readers)
            or (isinstance(func, ast.Name) and func.id in readers)
        )
        first = node.args[0]
        if is_reader and isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value.isupper():
            names.add(first.value)
    return names


def settings_read() -> set[str]:
    return set().union(*(names_read(path, readers) for path, readers in ENV_READERS.items()))


def example_entries() -> dict[str, tuple[int, str, bool]]:
    """NAME → (line number, the comment line above it, whether it is commented out)."""
    lines = EXAMPLE.read_text().splitlines()
    entries = {}
    for number, line in enumerate(lines):
        text = line.removeprefix("# ") if line.startswith("# ") else line
        name, sep, _value = text.partition("=")
        if not sep or not name.isidentifier() or not name.isupper():
            continue
        above = lines[number - 1] if number else ""
        entries[name] = (number + 1, above, line.startswith("# "))
    return entries


def is_description(line: str) -> bool:
    if not line.startswith("#"):
        return False
    text = line.lstrip("# ").strip()
    name, sep, _ = text.partition("=")
    return bool(text) and not (sep and name.isidentifier() and name.isupper())


def test_the_parser_finds_the_settings_it_should():
    """Guards the test itself: a few names read in different ways are found."""
    found = settings_read()

    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PRIVATE_MEDIA_ROOT", "STRIPE_WEBHOOK_SECRET",
            "DATABASE_REPLICA_URL", "DATABASE_POOL_MAX_SIZE", "WEB_PORT"} <= found
    assert len(found) > 80


def test_every_setting_read_is_listed():
    missing = sorted(settings_read() - set(example_entries()))

    assert missing == [], f"add these to .env.example, each with a comment line above it: {missing}"


def test_every_listed_variable_has_its_own_comment_above_it():
    uncommented = [f"line {number}: {name}" for name, (number, above, _) in example_entries().items()
                   if not is_description(above)]

    assert uncommented == []


def test_values_carry_no_inline_comment_and_parse_as_written(tmp_path, monkeypatch):
    """django-environ's read_env keeps "value   # note" whole (so DJANGO_DEBUG=true  # … would read as false)."""
    values = {}
    monkeypatch.setattr(environ.Env, "ENVIRON", values)
    environ.Env.read_env(EXAMPLE, overwrite=True)

    with_comment = {name: value for name, value in values.items() if "#" in value}
    assert with_comment == {}
    assert values["DJANGO_DEBUG"] == "true"
    assert values["DEFAULT_FROM_EMAIL"] == "Stayhold <bookings@stayhold.localhost>"
    assert "CHANNEX_BASE_URL" not in values  # commented out: its default depends on DEBUG
