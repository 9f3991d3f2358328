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

    def test_a_job_folder_that_is_a_link_is_refused_not_followed(self, tmp_path: Path) -> None:
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        self.outbox.mkdir()
        (self.outbox / "7").symlink_to(elsewhere)
        with pytest.raises(PermanentSendError, match="symbolic link"):
            self.make_provider().send(sample_message())
        assert list(elsewhere.iterdir()) == []

    def test_an_outbox_that_is_a_link_is_refused_not_followed(self, tmp_path: Path) -> None:
        elsewhere = tmp_path / "elsewhere"
        (elsewhere / "7").mkdir(parents=True)
        self.outbox.symlink_to(elsewhere)
        with pytest.raises(PermanentSendError, match="symbolic link"):
            self.make_provider().send(sample_message())
        assert list((elsewhere / "7").iterdir()) == []

    def test_a_link_at_the_file_name_is_replaced_not_written_through(self, tmp_path: Path) -> None:
        target = tmp_path / "target"
        target.write_text("keep me")
        path = self.make_provider().path_for(sample_message())
        path.parent.mkdir(parents=True)
        path.symlink_to(target)
        self.make_provider().send(sample_message())
        assert target.read_text() == "keep me"
        assert not path.is_symlink()
        assert b"Message-ID:" in path.read_bytes()
