"""The demo's lessons (``web/demo/lessons.json``) and where the demo's files live."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import AppConfig
from ..course import CourseSelector
from ..errors import TrackerError, UnknownCourseError
from ..sources import source_root
from ..validation import WireModel, validate

LESSONS_FILE = "lessons.json"
CONFIG_FILE = "timeback.config.json"


class DemoError(TrackerError):
    """The demo cannot start: its files are missing or wrong; the message says which."""


def web_root(root: Path | None = None) -> Path:
    folder = (root or source_root()) / "web" / "demo"
    if not (folder / LESSONS_FILE).is_file():
        raise DemoError(
            f"{folder / LESSONS_FILE} not found: this tracker install is incomplete "
            "(reinstall the package)"
        )
    return folder


def default_config(root: Path | None = None) -> Path:
    return web_root(root) / CONFIG_FILE


class Lesson(WireModel):
    id: str
    name: str
    course: CourseSelector
    href: str
    kind: str
    minutes: int = 5
    summary: str = ""
    stateful: bool = False
    # A stateful lesson's parts and answer key, relative to the web folder.
    content: str | None = None

    def selector(self) -> dict[str, Any]:
        return self.course.model_dump(by_alias=True)


class LessonList(WireModel):
    lessons: list[Lesson]


@dataclass(frozen=True)
class Catalogue:
    lessons: tuple[Lesson, ...]

    @classmethod
    def load(cls, folder: Path) -> Catalogue:
        path = folder / LESSONS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DemoError(f"{path}: {exc}") from None
        return cls(tuple(validate(LessonList, data).lessons))

    def find(self, lesson_id: str) -> Lesson | None:
        return next((lesson for lesson in self.lessons if lesson.id == lesson_id), None)

    def runnable(self, config: AppConfig) -> list[Lesson]:
        """The lessons whose course the served ``timeback.config.json`` has."""
        found = []
        for lesson in self.lessons:
            try:
                config.find_course(lesson.course)
            except UnknownCourseError:
                continue
            found.append(lesson)
        return found
