//! ls, tree, du and stat: output streams as the listings arrive.

use super::{Printer, entry_json, paths_of, stdout_io};
use crate::error::{Failure, Failures, exit};
use crate::format::{ATTR_HIDDEN, format_attributes, format_time, human_size};
use crate::json::{Stream, Value};
use crate::remote::{Entry, Meta};
use crate::run::Ctx;
use crate::session::{Session, finish};
use crate::walk::{Found, expand};
use smb_core::url::{join_path, split_parent};
use std::io;

/// Hidden: a dot file or the hidden attribute.
fn hidden(e: &Entry) -> bool {
    e.name.starts_with('.') || e.meta.attributes & ATTR_HIDDEN != 0
}

/// The files and directories `paths` name (patterns expanded), with their metadata.
/// Failures (missing file, no match) are reported and skipped.
fn resolve_all(s: &Session, paths: &[String], failures: &mut Failures) -> Vec<(String, Meta)> {
    let mut out = Vec::new();
    for p in paths {
        let found = match expand(&*s.remote, p) {
            Ok(v) if v.is_empty() => {
                failures.add(Failure::new(
                    exit::NOT_FOUND,
                    format!("no match: nothing matches {}", s.shown(p)),
                ));
                continue;
            }
            Ok(v) => v,
            Err(e) => {
                failures.add(s.err(p)(e));
                continue;
            }
        };
        for Found { path, meta } in found {
            match meta.map(Ok).unwrap_or_else(|| s.remote.metadata(&path)) {
                Ok(m) => out.push((path, m)),
                Err(e) => failures.add(s.err(&path)(e)),
            }
        }
    }
    out
}

/// How `ls` prints.
struct LsFormat {
    long: bool,
    all: bool,
    recursive: bool,
}

enum Sink {
    Text(Printer),
    Json(Stream<Printer>),
}

impl Sink {
    fn entry(&mut self, s: &Session, f: &LsFormat, dir: &str, e: &Entry) -> io::Result<()> {
        match self {
            Sink::Json(j) => {
                let shown = s.shown(&join_path(dir, &e.name));
                j.entry(&entry_json(&shown, &e.name, &e.meta, false))
            }
            Sink::Text(p) => {
                let slash = if e.meta.is_dir { "/" } else { "" };
                let line = if f.long {
                    let kind = if e.meta.is_dir { 'd' } else { '-' };
                    format!(
                        "{kind} {:>12}  {}  {}{slash}\n",
                        e.meta.size,
                        format_time(e.meta.modified),
                        e.name
                    )
                } else {
                    format!("{}{slash}\n", e.name)
                };
                p.write(&line).map_err(stdout_io)
            }
        }
    }

    fn header(&mut self, text: &str) -> io::Result<()> {
        match self {
            Sink::Text(p) => p.write(text).map_err(stdout_io),
            Sink::Json(_) => Ok(()),
        }
    }

    fn printer(&self) -> &Printer {
        match self {
            Sink::Text(p) => p,
            Sink::Json(j) => j.inner(),
        }
    }
}

/// Open the session of `urls`, find what they name (patterns expanded) and run `body` with
/// an output sink (JSON stream or text); then close the sink and the session.
fn with_targets(
    ctx: &Ctx,
    urls: &[String],
    what: &str,
    body: impl FnOnce(&Session, &mut Sink, Vec<(String, Meta)>, &mut Failures) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let (first, paths) = paths_of(urls)?;
    let s = Session::open(ctx, &first)?;
    let r = (|| {
        let mut failures = Failures::new();
        let targets = resolve_all(&s, &paths, &mut failures);
        let mut sink = if ctx.g.json {
            Sink::Json(Stream::start(Printer::new()).map_err(|e| stdout_fail(&e))?)
        } else {
            Sink::Text(Printer::new())
        };
        body(&s, &mut sink, targets, &mut failures)?;
        match sink {
            Sink::Json(j) => j.finish().map_err(|e| stdout_fail(&e))?,
            Sink::Text(mut p) => p.flush()?,
        }
        failures.finish(paths.len(), what)
    })();
    finish(s, r)
}

/// `smb ls [-l] [-R] [-a] URL...`.
pub fn ls(
    ctx: &Ctx,
    urls: &[String],
    long: bool,
    recursive: bool,
    all: bool,
) -> Result<(), Failure> {
    let f = LsFormat {
        long,
        all,
        recursive,
    };
    with_targets(ctx, urls, "listings", |s, sink, targets, failures| {
        let count = targets.len();
        let (files, dirs): (Vec<_>, Vec<_>) = targets.into_iter().partition(|(_, m)| !m.is_dir);
        for (path, meta) in &files {
            let (dir, name) = split_parent(path);
            let e = Entry {
                name: name.to_string(),
                meta: *meta,
            };
            if let Err(err) = sink.entry(s, &f, dir, &e) {
                return Err(sink.printer().explain(err, s.err(path)));
            }
        }
        let headers = f.recursive || count > 1;
        for (i, (path, _)) in dirs.iter().enumerate() {
            let gap = i > 0 || !files.is_empty();
            ls_dir(s, &f, sink, path, headers, gap, failures)?;
        }
        Ok(())
    })
}

fn stdout_fail(e: &io::Error) -> Failure {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Failure::stdout_closed()
    } else {
        Failure::local(std::path::Path::new("<stdout>"), e)
    }
}

/// List one directory as it streams in, then its subdirectories with `-R`.
#[allow(clippy::too_many_arguments)]
fn ls_dir(
    s: &Session,
    f: &LsFormat,
    sink: &mut Sink,
    path: &str,
    header: bool,
    gap: bool,
    failures: &mut Failures,
) -> Result<(), Failure> {
    crate::interrupt::check()?;
    if header {
        let text = format!("{}{}:\n", if gap { "\n" } else { "" }, s.shown(path));
        if let Err(e) = sink.header(&text) {
            return Err(sink.printer().explain(e, s.err(path)));
        }
    }
    let mut subdirs = Vec::new();
    let listed = s.remote.list(path, &mut |e: Entry| {
        if !f.all && hidden(&e) {
            return Ok(());
        }
        sink.entry(s, f, path, &e)?;
        if f.recursive && e.meta.is_dir {
            subdirs.push(e.name);
        }
        Ok(())
    });
    if let Err(e) = listed {
        let failure = sink.printer().explain(e, s.err(path));
        if failure.code == exit::OK || failure.code == exit::LOCAL_IO {
            return Err(failure);
        }
        failures.add(failure);
    }
    for name in subdirs {
        ls_dir(s, f, sink, &join_path(path, &name), true, true, failures)?;
    }
    Ok(())
}

/// `smb tree [-a] [-L N] URL`.
pub fn tree(ctx: &Ctx, url: &str, all: bool, level: Option<usize>) -> Result<(), Failure> {
    if ctx.g.json {
        return Err(Failure::usage("tree has no JSON output (use ls -R --json)"));
    }
    let (first, paths) = paths_of(&[url.to_string()])?;
    let s = Session::open(ctx, &first)?;
    let r = (|| {
        let root = &paths[0];
        let meta = s.remote.metadata(root).map_err(s.err(root))?;
        let mut p = Printer::new();
        if let Err(e) = p.write(&format!("{}\n", s.shown(root))) {
            return Err(p.explain(stdout_io(e), s.err(root)));
        }
        let mut counts = (0usize, 0usize);
        let mut failures = Failures::new();
        if meta.is_dir {
            tree_dir(
                &s,
                &mut p,
                root,
                "",
                1,
                all,
                level,
                &mut counts,
                &mut failures,
            )?;
        }
        let (d, f) = counts;
        let summary = format!(
            "\n{d} director{}, {f} file{}\n",
            if d == 1 { "y" } else { "ies" },
            if f == 1 { "" } else { "s" }
        );
        if let Err(e) = p.write(&summary) {
            return Err(p.explain(stdout_io(e), s.err(root)));
        }
        p.flush()?;
        failures.finish(1, "listings")
    })();
    finish(s, r)
}

#[allow(clippy::too_many_arguments)]
fn tree_dir(
    s: &Session,
    p: &mut Printer,
    path: &str,
    prefix: &str,
    depth: usize,
    all: bool,
    level: Option<usize>,
    counts: &mut (usize, usize),
    failures: &mut Failures,
) -> Result<(), Failure> {
    crate::interrupt::check()?;
    // One directory at a time is collected, to know which entry is the last.
    let mut entries = Vec::new();
    if let Err(e) = s.remote.list(path, &mut |e: Entry| {
        if all || !hidden(&e) {
            entries.push(e);
        }
        Ok(())
    }) {
        failures.add(s.err(path)(e));
        return Ok(());
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let n = entries.len();
    for (i, e) in entries.into_iter().enumerate() {
        let last = i + 1 == n;
        let (branch, cont) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        let slash = if e.meta.is_dir { "/" } else { "" };
        if let Err(err) = p.write(&format!("{prefix}{branch}{}{slash}\n", e.name)) {
            return Err(p.explain(stdout_io(err), s.err(path)));
        }
        if e.meta.is_dir {
            counts.0 += 1;
            if level.is_none_or(|l| depth < l) {
                let sub = join_path(path, &e.name);
                let prefix = format!("{prefix}{cont}");
                tree_dir(s, p, &sub, &prefix, depth + 1, all, level, counts, failures)?;
            }
        } else {
            counts.1 += 1;
        }
    }
    Ok(())
}

/// Totals of a directory tree.
#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    bytes: u64,
    allocated: u64,
    files: u64,
    dirs: u64,
}

/// `smb du [-s] [-h] URL...`.
pub fn du(ctx: &Ctx, urls: &[String], summarize: bool, human: bool) -> Result<(), Failure> {
    with_targets(ctx, urls, "size counts", |s, sink, targets, failures| {
        for (path, meta) in &targets {
            let u = if meta.is_dir {
                du_dir(s, sink, path, !summarize, human, failures)?
            } else {
                Usage {
                    bytes: meta.size,
                    allocated: meta.allocated,
                    files: 1,
                    dirs: 0,
                }
            };
            if summarize || !meta.is_dir {
                du_line(s, sink, path, &u, human)?;
            }
        }
        Ok(())
    })
}

fn du_dir(
    s: &Session,
    sink: &mut Sink,
    path: &str,
    print: bool,
    human: bool,
    failures: &mut Failures,
) -> Result<Usage, Failure> {
    crate::interrupt::check()?;
    let mut u = Usage {
        dirs: 1,
        ..Usage::default()
    };
    let mut subdirs = Vec::new();
    if let Err(e) = s.remote.list(path, &mut |e: Entry| {
        if e.meta.is_dir {
            subdirs.push(e.name);
        } else {
            u.bytes += e.meta.size;
            u.allocated += e.meta.allocated;
            u.files += 1;
        }
        Ok(())
    }) {
        failures.add(s.err(path)(e));
    }
    for name in subdirs {
        let sub = du_dir(s, sink, &join_path(path, &name), print, human, failures)?;
        u.bytes += sub.bytes;
        u.allocated += sub.allocated;
        u.files += sub.files;
        u.dirs += sub.dirs;
    }
    if print {
        du_line(s, sink, path, &u, human)?;
    }
    Ok(u)
}

fn du_line(
    s: &Session,
    sink: &mut Sink,
    path: &str,
    u: &Usage,
    human: bool,
) -> Result<(), Failure> {
    let shown = s.shown(path);
    let r = match sink {
        Sink::Json(j) => j.entry(&Value::Obj(vec![
            ("path", Value::from(shown)),
            ("bytes", Value::Num(u.bytes)),
            ("allocated", Value::Num(u.allocated)),
            ("files", Value::Num(u.files)),
            ("directories", Value::Num(u.dirs)),
        ])),
        Sink::Text(p) => {
            let size = if human {
                human_size(u.bytes)
            } else {
                u.bytes.to_string()
            };
            p.write(&format!("{size}\t{shown}\n")).map_err(stdout_io)
        }
    };
    r.map_err(|e| sink.printer().explain(e, s.err(path)))
}

/// `smb stat URL...`.
pub fn stat(ctx: &Ctx, urls: &[String]) -> Result<(), Failure> {
    with_targets(ctx, urls, "lookups", |s, sink, targets, _| {
        for (i, (path, m)) in targets.iter().enumerate() {
            let shown = s.shown(path);
            let name = split_parent(path).1;
            let r = match &mut *sink {
                Sink::Json(j) => j.entry(&entry_json(&shown, name, m, true)),
                Sink::Text(p) => {
                    let text = format!(
                        "{}path:       {shown}\n\
                         type:       {}\n\
                         size:       {}\n\
                         allocated:  {}\n\
                         attributes: {}\n\
                         modified:   {}\n\
                         accessed:   {}\n\
                         changed:    {}\n\
                         created:    {}\n\
                         file id:    {:#x}\n\
                         links:      {}\n",
                        if i > 0 { "\n" } else { "" },
                        if m.is_dir { "directory" } else { "file" },
                        m.size,
                        m.allocated,
                        format_attributes(m.attributes),
                        format_time(m.modified),
                        format_time(m.accessed),
                        format_time(m.changed),
                        format_time(m.created),
                        m.file_id,
                        m.links,
                    );
                    p.write(&text).map_err(stdout_io)
                }
            };
            r.map_err(|e| sink.printer().explain(e, s.err(path)))?;
        }
        Ok(())
    })
}
