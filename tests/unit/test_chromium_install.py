"""The browser tests' Chromium set-up says what is missing and how to install it."""

from __future__ import annotations

import pytest

from tests.browser.chromium import ChromiumUnavailable, ensure_chromium


def test_no_chromium_and_no_apt_get_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no chromium, no apt-get
    with pytest.raises(ChromiumUnavailable, match="chromium-driver") as error:
        ensure_chromium()
    assert "apt-get" in str(error.value)


def test_a_failing_apt_get_is_a_clear_error(monkeypatch, tmp_path):
    apt = tmp_path / "apt-get"  # an apt-get that cannot reach its mirror
    apt.write_text("#!/bin/sh\necho 'E: Unable to fetch some archives' >&2\nexit 100\n")
    sudo = tmp_path / "sudo"  # when not root, `sudo -n apt-get …` runs it as it is
    sudo.write_text('#!/bin/sh\nshift\nexec "$@"\n')
    for tool in (apt, sudo):
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ChromiumUnavailable, match="exited with 100") as error:
        ensure_chromium()
    assert "Unable to fetch" in str(error.value)
