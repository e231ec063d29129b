"""Live rebuilds: a process that builds again and again keeps the last build in memory.

``invoke livereload`` rebuilds after every save, and the warm process of ``invoke build``
(encounter_habit.warm) after every build asked of it. A full Pelican run re-reads and re-renders
the whole site; at 2,000 posts that is seconds even when only one post's text changed. Here the
last build's posts, generators and writer calls stay alive between builds, so when the only
change is the body of existing posts (their headers, so their metadata, untouched) or comments
on them, a rebuild:

1. learns which files changed from the content watcher (encounter_habit.watch), or a scan;
2. re-reads just those posts and puts their new HTML into the existing post objects, and has the
   comments plugin read the changed threads again into theirs (``refreshers``);
3. repeats only the writer calls that made a page showing one of those bodies or threads (the
   incremental memo noted which bodies and comments each page read while it rendered);
4. runs the generators that write self-contained output (emails, feeds: ``parallel_output``),
   which remake only the files whose keys changed;
5. moves what it wrote into the output, as every incremental build does, and saves the memo and
   the input stamp, so the next ``invoke build`` also finds the site up to date.

Anything else (a new, deleted or renamed post, a header edit, a post's first comment or its last,
templates, settings, plugins, a future post going live, a build by another process since, a last
build with warnings) takes the ordinary build. So does any error in the quick path: it only
writes into staging, and the output is only touched once it has succeeded. Tests hold the result
to the bytes of a clean build.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import time
from pathlib import Path

from encounter_habit import inputs
from encounter_habit.build import (
    BuildReport,
    ErrorCollector,
    apply_changes,
    build_site,
    fewer_collections,
    forget_memoized_content,
    save_stamp,
)
from encounter_habit.watch import Watcher

logger = logging.getLogger(__name__)

# Plugins that do something once all content is read and settled (Pelican's
# all_generators_finalized) and undo it when the build ends: name -> a function given True, then
# False. A quick rebuild changes no metadata, so it runs settled from its start to its end.
settled: dict = {}

# Plugins that read files of their own (not posts) into the posts: name -> a function given the
# last build's generators and the changed files (absolute paths, some maybe deleted), which
# updates the posts and returns those it changed, or None if an ordinary build is needed.
refreshers: dict = {}


class LiveSite:
    """Builds one site again and again in this process, as fast as the change allows."""

    def __init__(self, settings_file: str | os.PathLike, overrides: dict | None = None) -> None:
        self.settings_file = settings_file
        self.overrides = overrides
        self.last: dict | None = None
        self.table: inputs.Table = {}  # content file -> packed stat, as the last build read them
        self.declined = ""  # why the last quick rebuild was not possible
        self.folders: set[str] = set()  # the content's folders, as the last build read them
        # tells which content files changed since the table was taken (None: scan them all)
        self.watcher: Watcher | None = None

    def build(self, *, strict: bool = False) -> BuildReport:
        if self.last is not None and not strict:
            try:
                report = self.quick_build()
            except Exception:  # anything unforeseen: the ordinary build is always right
                logger.debug("live: quick rebuild gave up", exc_info=True)
                report = None
            if report is not None:
                return report
        return self.full_build(strict=strict)

    # The ordinary build, keeping what a quick one needs ----------------------------------

    def full_build(self, *, strict: bool = False) -> BuildReport:
        self.last = None
        gc.unfreeze()  # the last build's objects may go now (see below)
        keep: dict = {}
        table: inputs.Table = {}
        folders: set[str] = set()
        content, skip = self._content_root()
        scans: dict = {}
        self._unwatch()
        if content:  # the content's stats, taken before the build reads it (and reused by it)
            self.watcher = Watcher.create(content, tuple(skip))  # first: then no change is missed
            recent_ns = time.time_ns() - inputs.RACY_NS  # see inputs.take
            scans[content, tuple(skip)] = inputs.scan(
                content, skip=tuple(skip), recent_ns=recent_ns, table=table, folders=folders
            )
        report = build_site(
            self.settings_file, self.overrides, strict=strict, keep=keep, scans=scans
        )
        if report.unchanged:
            return report  # nothing was read: keep no state (the next save builds afresh)
        if keep.get("memo") is None or keep.get("stamp") is None:
            return report
        if os.path.realpath(keep["settings"]["PATH"]) != content:
            if "table" not in keep:
                return report
            # no stamp told where the content was: the build scanned it, and the next quick
            # build scans again (the watcher only starts now)
            table, folders = keep["table"], keep["folders"]
            self._unwatch()
            root, skip = os.path.realpath(keep["settings"]["PATH"]), keep["stamp"].skip
            self.watcher = Watcher.create(root, tuple(skip))
            if self.watcher:
                self.watcher.rescan = True
        self.table, self.folders = table, folders
        self.last = {**keep, "report": report, "stamp_id": _file_id(keep["stamp_file"])}
        # Hundreds of thousands of objects now live as long as this build is kept: out of the
        # collector's sight, a quick rebuild no longer pays for a walk over all of them (a full
        # collection took up to half a second at 2,000 posts).
        gc.freeze()
        return report

    def _unwatch(self) -> None:
        if self.watcher:
            self.watcher.close()
        self.watcher = None

    def _content_root(self) -> tuple[str | None, list[str]]:
        if self.last is None:
            stamp = inputs.Stamp.load(inputs.stamp_path(self.settings_file, self.overrides))
            if stamp is None or not stamp.roots:
                return None, []
            return stamp.roots[0], stamp.skip
        return os.path.realpath(self.last["settings"]["PATH"]), self.last["stamp"].skip

    # The quick build -------------------------------------------------------------------

    def quick_build(self) -> BuildReport | None:
        """Rebuild after body edits only; None when the change needs the ordinary build."""
        last = self.last
        started_ns = time.time_ns()
        report: BuildReport = last["report"]
        stamp: inputs.Stamp = last["stamp"]
        if report.messages:
            # Its warnings and errors are those of the whole site, which a quick rebuild would
            # not say again: the ordinary build does (from its stamp, if nothing changed).
            return self._ordinary("the last build had warnings or errors")
        if _file_id(last["stamp_file"]) != last["stamp_id"]:
            return self._ordinary("another process built the site since")
        content = os.path.realpath(last["settings"]["PATH"])
        # everything but the content, as an ordinary build would check it
        scans: dict = {}  # kept for the new stamp
        reason = inputs.first_change(stamp, scans, started_ns=started_ns, apart=content)
        if reason:
            return self._ordinary(reason)
        skip = tuple(stamp.skip)
        recent_ns = started_ns - inputs.RACY_NS
        seen = self.watcher.changes() if self.watcher else None
        if seen is None:  # no watcher, or it cannot tell: look at every file
            table, folders = {}, set()
            scans[content, skip] = inputs.scan(
                content, skip=skip, recent_ns=recent_ns, table=table, folders=folders
            )
            changed = {p for p, stat in table.items() if stat != self.table.get(p, stat)}
            changed.update(table.keys() ^ self.table.keys())  # added, deleted, renamed
        else:  # only the files the watcher saw change
            table, folders = dict(self.table), set(self.folders)
            inputs.refresh(table, folders, seen)
            # the stamp holds the digest of the table as it was (0.2 s to redo at 10,000 posts)
            digest = stamp.inputs.get(content) if not seen else None
            digest = digest or inputs.digest_of(table, folders)
            scans[content, skip] = (digest, inputs.recent_in(table, recent_ns))
            changed = {p for p in seen if table.get(p) != self.table.get(p)}
        # saved in the same timestamp tick as the last scan: only their bytes tell
        changed.update(inputs.changed_racy_files(stamp, content, inside=True))
        changed = sorted(changed)
        if not changed:
            self.table, self.folders = table, folders
            return BuildReport(
                output=last["output"],
                articles=report.articles,
                pages=report.pages,
                reused=len(report.files),
                unchanged=True,
            )
        posts = [path for path in changed if path in table and self._is_post(path)]
        fresh = [self._reread(path) for path in posts]
        if any(pair is None for pair in fresh):
            return self._ordinary("a post's header changed")
        others = sorted(set(changed) - set(posts))
        refreshed: list = []
        if others:
            refreshed = self._refresh(others)
            if refreshed is None:
                return self._ordinary("a file other than a post's body or a comment changed")
        result = self._render(fresh, changed, started_ns, scans, refreshed)
        if result is None:
            return None
        self.table, self.folders = table, folders
        last["report"] = result
        return result

    def _ordinary(self, reason: str) -> None:
        logger.debug("live: %s: an ordinary build", reason)
        self.declined = reason
        return None

    def _is_post(self, path: str) -> bool:
        from pelican.contents import Article

        return type(self.last["memo"]._contents.get(path)) is Article

    def _refresh(self, paths: list[str]) -> list | None:
        """Hand files other than posts to the plugin that reads them (see ``refreshers``)."""
        for refresh in refreshers.values():
            refreshed = refresh(self.last["generators"], paths)
            if refreshed is not None:
                return refreshed
        return None

    def _reread(self, path: str):
        """(post object, freshly read post) for a post whose header is unchanged, else None."""
        from pelican.contents import Article
        from pelican.generators import ArticlesGenerator

        memo = self.last["memo"]
        old = memo._contents.get(path)
        if type(old) is not Article:
            return None
        generator = next(
            (g for g in self.last["generators"] if isinstance(g, ArticlesGenerator)), None
        )
        if generator is None:
            return None
        relative = os.path.relpath(path, generator.path)
        new = generator.readers.read_file(
            base_path=generator.path,
            path=relative,
            content_class=Article,
            context=generator.context,
        )
        if new is None or type(new) is not Article:
            return None
        same = (
            new.metadata == old.metadata
            and new.status == old.status
            and new.url == old.url
            and new.save_as == old.save_as
        )
        return (old, new) if same else None

    def _render(self, fresh, changed, started_ns, scans, refreshed) -> BuildReport | None:
        from encounter_habit import incremental
        from encounter_habit.incremental import Memo

        last = self.last
        before = last["memo"]
        sources = {str(old.source_path) for old, _new in fresh}
        dirty = {
            page
            for page, shown in before.bodies.items()
            if sources.intersection(shown) and page in before.keys
        }
        # and the pages that showed the comments (or the count) of a post whose thread changed
        commented = {str(post.source_path) for post in refreshed}
        dirty.update(
            page
            for page, shown in before.comments.items()
            if commented.intersection(shown) and page in before.keys
        )
        sources |= commented
        calls = set(before.unkeyed_calls)
        # a page without a key (its template's variables unknown) is made by every build
        calls.update(index for page, index in before.call_of.items() if page not in before.keys)
        for page in dirty:
            if page not in before.call_of:  # rendered outside the writer: cannot be repeated
                return self._ordinary(f"{page} cannot be made again alone")
            calls.add(before.call_of[page])
        for old, new in fresh:
            old._content = new._content
        output, staging = Path(last["output"]), Path(last["staging"])
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        memo = Memo(output, staging, before.manifest_path, before.code)
        if not memo.in_place:
            return self._ordinary("the last build's memo is gone")
        memo.site = before.site
        # Template variables are fingerprinted without bodies and comments (those are tracked
        # as pages read them), and nothing else changed: every fingerprint the last build worked
        # out still holds, for the same objects.
        memo._values = before._values
        memo.index_contents(last["context"])
        memo.dirty, memo.changed = dirty, sources
        collector = ErrorCollector()
        logging.getLogger().addHandler(collector)
        incremental.activate(memo)
        for hook in settled.values():
            hook(True)
        try:
            with fewer_collections():
                writer = type(before.writer)(str(output), settings=last["settings"])
                writer.redirect_to = str(staging)
                for index in sorted(calls):
                    name, template, context, kwargs = before.calls[index]
                    writer.write_file(name, template, context, **kwargs)
                for generator in last["generators"]:
                    if getattr(generator, "parallel_output", False):
                        generator.generate_output(writer)
        except Exception:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            for hook in settled.values():
                hook(False)
            incremental.activate(None)
            logging.getLogger().removeHandler(collector)
            forget_memoized_content()
        made = memo.made  # before the untouched pages join the keys
        for page, key in memo._previous_keys.items():
            memo.keys.setdefault(page, key)
        for page, shown in memo._previous_bodies.items():
            memo.bodies.setdefault(page, shown)
        for page, shown in memo._previous_comments.items():
            memo.comments.setdefault(page, shown)
        memo.produced = apply_changes(staging, output, memo, kept=memo.previous_produced)
        memo.save()
        result = BuildReport(
            output=output,
            errors=collector.lines,
            messages=collector.messages,
            made=made,
            reused=len(memo.produced) - made,
            valid_until=last["report"].valid_until,
            files=memo.produced,
            articles=last["report"].articles,
            pages=last["report"].pages,
            quick=True,
        )
        # the writer calls stay those of the last full build: the objects they show are the same
        memo.writer, memo.calls = before.writer, before.calls
        memo.call_of, memo.unkeyed_calls = before.call_of, before.unkeyed_calls
        last["memo"] = memo
        stamp: inputs.Stamp = last["stamp"]
        scanned = inputs.take(stamp.roots, stamp.settings_folder, stamp.skip, started_ns, scans)
        folders = stamp.output_folders  # no file came or went: the same folders, new mtimes
        if set(memo.produced) != set(memo.previous_produced):
            folders = None
        last["stamp"] = save_stamp(
            last["stamp_file"],
            result,
            stamp.roots,
            stamp.settings_folder,
            stamp.skip,
            scanned,
            output,
            folders,
        )
        if last["stamp"] is None:
            self.last = None  # the output moved under us: the next save builds afresh
        else:
            last["stamp_id"] = _file_id(last["stamp_file"])
        logger.info("live: remade %d file(s) for %d changed source(s)", made, len(changed))
        return result


def _file_id(path) -> tuple[int, int, int] | None:
    """Identifies one version of a file: stamps are replaced, never written in place."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)
