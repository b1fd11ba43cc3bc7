"""The translations are complete: every wrapped string of the code and templates is translated in German, French
and Spanish, with no fuzzy entry and with the same placeholders (``make messages`` keeps the files up to date).

The strings are extracted afresh with Django's own ``makemessages`` (the Makefile's flags) into a temporary
directory, then GNU gettext's ``msgcmp`` checks each committed catalogue against them (an untranslated or fuzzy
entry counts as missing) and ``msgfmt --check`` checks the placeholders (python-format) and the plural forms.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

LOCALES = ["de", "fr", "es"]
ROOT = Path(settings.BASE_DIR)
MAKEFILE = (ROOT / "Makefile").read_text()

pytestmark = pytest.mark.skipif(not shutil.which("msgcmp"), reason="GNU gettext is not installed")


DOMAINS = {"django": "MAKEMESSAGES_IGNORE", "djangojs": "MAKEMESSAGES_JS_IGNORE"}


def makefile_ignores(variable: str) -> list[str]:
    """The ``--ignore`` patterns of ``make messages``: the test extracts exactly what the build does."""
    block = MAKEFILE.split(f"{variable} :=", 1)[1].split("\n\n", 1)[0].split("\n# ", 1)[0]
    block = block.split("\nMAKEMESSAGES", 1)[0]
    return [pattern.strip("'") for pattern in re.findall(r"--ignore=(\S+)", block)]


@pytest.fixture(scope="module")
def fresh_catalogs(tmp_path_factory) -> dict[str, Path]:
    """Every msgid as the code and templates have them now (a new, empty German catalogue). makemessages writes
    into the ``locale`` directory beside the files it reads, so it runs in a scratch tree whose folders are links to
    the project's (the committed catalogues are never touched)."""
    tree = tmp_path_factory.mktemp("tree")
    for child in ROOT.iterdir():
        if child.name not in {"locale", ".git", ".venv", "var"}:
            (tree / child.name).symlink_to(child)
    (tree / "locale").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "LOCALE_PATHS", [tree / "locale"])
        patch.chdir(tree)
        for domain, variable in DOMAINS.items():
            call_command("makemessages", locale=["de"], domain=domain, ignore_patterns=makefile_ignores(variable),
                         symlinks=True, no_obsolete=True, no_wrap=True, add_location="file", verbosity=0)
    catalogs = {domain: tree / "locale" / "de" / "LC_MESSAGES" / f"{domain}.po" for domain in DOMAINS}
    assert all(path.exists() for path in catalogs.values())
    return catalogs


@pytest.mark.parametrize("domain", list(DOMAINS))
@pytest.mark.parametrize("language", LOCALES)
def test_every_string_is_translated(fresh_catalogs, language, domain):
    committed = ROOT / "locale" / language / "LC_MESSAGES" / f"{domain}.po"
    result = subprocess.run(["msgcmp", str(committed), str(fresh_catalogs[domain])], capture_output=True, text=True,
                            check=False)
    missing = re.findall(r'this message is (?:untranslated|used but not defined)[^\n]*|msgid "[^\n]*', result.stderr)
    assert result.returncode == 0, f"{language}: missing or untranslated (run `make messages`):\n{result.stderr}"
    assert not missing


@pytest.mark.parametrize("domain", list(DOMAINS))
@pytest.mark.parametrize("language", LOCALES)
def test_no_fuzzy_entries_and_placeholders_and_plurals_are_consistent(language, domain, tmp_path):
    committed = ROOT / "locale" / language / "LC_MESSAGES" / f"{domain}.po"
    text = committed.read_text()
    assert "#, fuzzy" not in text and ", fuzzy" not in text, f"{language}: fuzzy entries need a translator's look"
    assert "Plural-Forms: nplurals=2;" in text
    result = subprocess.run(["msgfmt", "--check", "-o", str(tmp_path / "django.mo"), str(committed)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("language", LOCALES)
def test_brace_placeholders_are_kept(language):
    """``msgfmt --check`` checks %(name)s placeholders; the str.format ones ({ref}, {prop}) are checked here."""
    import gettext

    committed = ROOT / "locale" / language / "LC_MESSAGES" / "django.po"
    entries = re.findall(r'\nmsgid "(.*)"\nmsgstr "(.*)"\n', committed.read_text())
    assert entries
    for msgid, msgstr in entries:
        assert sorted(re.findall(r"\{\w+\}", msgid)) == sorted(re.findall(r"\{\w+\}", msgstr)), (language, msgid)
    assert gettext  # the standard library reads the compiled catalogue (Django does)


def test_the_extraction_leaves_out_the_back_office_and_the_tests():
    assert {"tests", "bench", ".venv", "templates/admin/*", "static"} <= set(makefile_ignores("MAKEMESSAGES_IGNORE"))
    assert {"tests", "static/js/admin-*"} <= set(makefile_ignores("MAKEMESSAGES_JS_IGNORE"))


def test_the_build_compiles_the_catalogues():
    install = MAKEFILE.split("\ninstall:", 1)[1].split("\n", 1)[0]
    assert "compilemessages" in install
    assert "*.mo" in (ROOT / ".gitignore").read_text().splitlines()
