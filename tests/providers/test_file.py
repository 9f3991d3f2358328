from __future__ import annotations

from pathlib import Path

import pytest

from capitolmail.errors import PermanentSendError
from capitolmail.providers import FileProvider

from .contract import ProviderContract, sample_message


class TestFileProvider(ProviderContract):
    @pytest.fixture(autouse=True)
    def _outbox(self, tmp_path: Path) -> None:
        self.outbox = tmp_path / "outbox"

    def make_provider(self) -> FileProvider:
        return FileProvider(self.outbox)

    def received(self, provider: FileProvider) -> list[bytes]:
        return [path.read_bytes() for path in sorted(self.outbox.rglob("*.eml"))]

    def test_files_are_grouped_by_job_and_named_by_recipient(self) -> None:
        provider = self.make_provider()
        receipt = provider.send(sample_message())
        expected = (
            self.outbox
            / "7"
            / "fpla.schatz.hi@senate.example.org--6f1c2d3e-0000-4000-8000-000000000001.eml"
        )
        assert receipt.provider_message_id == str(expected)
        assert [p for p in self.outbox.rglob("*") if p.is_file()] == [expected]

    def test_lines_end_in_crlf(self) -> None:
        self.make_provider().send(sample_message())
        [raw] = self.received(self.make_provider())
        assert b"\r\n" in raw
        assert b"\n" not in raw.replace(b"\r\n", b"")

    def test_sending_the_same_message_again_does_not_duplicate_it(self) -> None:
        provider = self.make_provider()
        provider.send(sample_message())
        provider.send(sample_message())
        assert len(self.received(provider)) == 1

    def test_unwritable_outbox_is_a_permanent_error(self, tmp_path: Path) -> None:
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("a file where the outbox should be")
        provider = FileProvider(blocker)
        with pytest.raises(PermanentSendError, match=r"^cannot write .*not-a-folder/7/"):
            provider.send(sample_message())
