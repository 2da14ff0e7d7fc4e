//! cat, mkdir, rm, rmdir, mv and cp. Commands on several paths report every failure and go
//! on; the exit code is that of the most serious one.

use super::{Printer, paths_of};
use crate::error::{Failure, Failures, exit};
use crate::glob::has_wildcard;
use crate::interrupt;
use crate::location::Location;
use crate::pool;
use crate::run::Ctx;
use crate::session::{Session, finish};
use crate::transfer::{metadata_opt, temp_name};
use crate::walk::{Visit, expand, walk};
use smb_core::url::{join_path, split_parent};
use std::io::{self, Read};

/// `smb cat URL...`.
pub fn cat(ctx: &Ctx, urls: &[String]) -> Result<(), Failure> {
    let (first, paths) = paths_of(urls)?;
    let s = Session::open(ctx, &first)?;
    let r = cat_paths(&s, &paths);
    finish(s, r)
}

/// Print the files `paths` name (patterns expanded) to stdout, one after the other.
pub fn cat_paths(s: &Session, paths: &[String]) -> Result<(), Failure> {
    let mut failures = Failures::new();
    let mut out = Printer::new();
    let mut buf = vec![0u8; 1 << 20];
    for p in paths {
        let found = match expand(&*s.remote, p) {
            Ok(v) if v.is_empty() => {
                failures.add(no_match(s, p));
                continue;
            }
            Ok(v) => v,
            Err(e) => {
                failures.add(s.err(p)(e));
                continue;
            }
        };
        for f in found {
            let err = s.err(&f.path);
            let r = (|| {
                let mut src = s.remote.open_read(&f.path, 0).map_err(&err)?;
                loop {
                    interrupt::check()?;
                    let n = match src.read(&mut buf) {
                        Ok(0) => return Ok(()),
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(err(e)),
                    };
                    if let Err(e) = out.raw(&buf[..n]) {
                        return Err(out.explain(super::stdout_io(e), &err));
                    }
                }
            })();
            match r {
                // `smb cat | head`: the reader went away, which is not an error.
                Err(f) if f.code == exit::OK => return Ok(()),
                Err(f) if f.is_interrupted() || f.code == exit::LOCAL_IO => {
                    failures.add(f);
                    return failures.finish(paths.len(), "files");
                }
                r => {
                    failures.record(r);
                }
            }
        }
    }
    if let Err(f) = out.flush() {
        return if f.code == exit::OK { Ok(()) } else { Err(f) };
    }
    failures.finish(paths.len(), "files")
}

fn no_match(s: &Session, p: &str) -> Failure {
    Failure::new(
        exit::NOT_FOUND,
        format!("no match: nothing matches {}", s.shown(p)),
    )
}

fn refuse_root(p: &str, what: &str) -> Result<(), Failure> {
    if p.is_empty() {
        Err(Failure::usage(format!(
            "refusing to {what} the root of a share"
        )))
    } else {
        Ok(())
    }
}

/// `smb mkdir [-p] URL...`.
pub fn mkdir(ctx: &Ctx, urls: &[String], parents: bool) -> Result<(), Failure> {
    let (first, paths) = paths_of(urls)?;
    for p in &paths {
        if p.is_empty() {
            return Err(Failure::bad_url(
                &urls[0],
                "no directory path after the share name",
            ));
        }
        if has_wildcard(p) {
            return Err(Failure::usage("mkdir takes no wildcards"));
        }
    }
    let s = Session::open(ctx, &first)?;
    let mut failures = Failures::new();
    for p in &paths {
        failures.record(s.remote.mkdir(p, parents).map_err(s.err(p)));
    }
    finish(s, failures.finish(paths.len(), "directories"))
}

/// `smb rmdir URL...`.
pub fn rmdir(ctx: &Ctx, urls: &[String]) -> Result<(), Failure> {
    let (first, paths) = paths_of(urls)?;
    for p in &paths {
        refuse_root(p, "remove")?;
    }
    let s = Session::open(ctx, &first)?;
    let mut failures = Failures::new();
    for p in &paths {
        match expand(&*s.remote, p) {
            Ok(v) if v.is_empty() => failures.add(no_match(&s, p)),
            Ok(v) => {
                for f in v {
                    let r = s.remote.remove_dir(&f.path, false).map_err(s.err(&f.path));
                    failures.record(r);
                }
            }
            Err(e) => failures.add(s.err(p)(e)),
        }
    }
    finish(s, failures.finish(paths.len(), "removals"))
}

/// `smb rm [-r] [-f] URL...`.
pub fn rm(ctx: &Ctx, urls: &[String], recursive: bool, force: bool) -> Result<(), Failure> {
    let (first, paths) = paths_of(urls)?;
    for p in &paths {
        refuse_root(p, "remove")?;
    }
    let s = Session::open(ctx, &first)?;
    let mut failures = Failures::new();
    let mut targets = Vec::new();
    for p in &paths {
        match expand(&*s.remote, p) {
            Ok(v) if v.is_empty() => {
                if !force {
                    failures.add(no_match(&s, p));
                }
            }
            Ok(v) => targets.extend(v),
            Err(e) if force && e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => failures.add(s.err(p)(e)),
        }
    }
    let total = targets.len();
    pool::run(
        &targets,
        ctx.g.parallel as usize,
        |_| false,
        |f| {
            interrupt::check()?;
            let err = s.err(&f.path);
            let meta = match f.meta.map(Ok).unwrap_or_else(|| s.remote.metadata(&f.path)) {
                Ok(m) => m,
                Err(e) if force && e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(err(e)),
            };
            let r = if meta.is_dir {
                if !recursive {
                    return Err(Failure::usage(format!(
                        "{} is a directory (use rm -r, or rmdir)",
                        s.shown(&f.path)
                    )));
                }
                s.remote.remove_dir(&f.path, true)
            } else {
                s.remote.remove_file(&f.path)
            };
            match r {
                Err(e) if force && e.kind() == io::ErrorKind::NotFound => Ok(()),
                r => r.map_err(err),
            }
        },
        &mut failures,
    );
    if interrupt::is_set() {
        failures.add(Failure::interrupted());
    }
    finish(s, failures.finish(total.max(paths.len()), "removals"))
}

/// The sources and destination of mv and cp: sources expanded, and where each one goes.
fn plan_moves(
    s: &Session,
    first: &Location,
    args: &[String],
    failures: &mut Failures,
) -> Result<Vec<(String, String, bool)>, Failure> {
    let (dest_arg, srcs) = args
        .split_last()
        .ok_or_else(|| Failure::usage("expected sources and a destination"))?;
    let (dest, slash) = first.sibling(dest_arg)?;
    if has_wildcard(&dest) {
        return Err(Failure::usage("no wildcards in a destination"));
    }
    let mut sources = Vec::new();
    for a in srcs {
        let (p, _) = first.sibling(a)?;
        refuse_root(&p, "move or copy")?;
        match expand(&*s.remote, &p) {
            Ok(v) if v.is_empty() => failures.add(no_match(s, &p)),
            Ok(v) => sources.extend(v),
            Err(e) => failures.add(s.err(&p)(e)),
        }
    }
    let dest_meta = metadata_opt(s, &dest)?;
    let into = dest.is_empty() || slash || dest_meta.is_some_and(|m| m.is_dir);
    if !into && (sources.len() > 1 || srcs.len() > 1) {
        return Err(Failure::usage(format!(
            "{} is not a directory (several sources)",
            s.shown(&dest)
        )));
    }
    if slash && dest_meta.is_none() {
        return Err(Failure::new(
            exit::NOT_FOUND,
            format!("not found: directory {} does not exist", s.shown(&dest)),
        ));
    }
    let mut out = Vec::new();
    for f in sources {
        let is_dir = match f.meta.map(Ok).unwrap_or_else(|| s.remote.metadata(&f.path)) {
            Ok(m) => m.is_dir,
            Err(e) => {
                failures.add(s.err(&f.path)(e));
                continue;
            }
        };
        let target = if into {
            join_path(&dest, split_parent(&f.path).1)
        } else {
            dest.clone()
        };
        out.push((f.path, target, is_dir));
    }
    Ok(out)
}

/// `smb mv [-f] URL... DEST`.
pub fn mv(ctx: &Ctx, args: &[String], force: bool) -> Result<(), Failure> {
    let first = Location::parse(&args[0])?;
    let s = Session::open(ctx, &first)?;
    let r = (|| {
        let mut failures = Failures::new();
        let moves = plan_moves(&s, &first, args, &mut failures)?;
        for (from, to, _) in &moves {
            interrupt::check()?;
            if from.eq_ignore_ascii_case(to) && from == to {
                continue;
            }
            let r = (|| {
                if !force {
                    if let Some(m) = metadata_opt(&s, to)? {
                        let kind = if m.is_dir { "directory" } else { "file" };
                        return Err(Failure::new(
                            exit::ALREADY_EXISTS,
                            format!(
                                "already exists: {kind} {} (use mv -f to replace a file)",
                                s.shown(to)
                            ),
                        ));
                    }
                }
                s.remote.rename(from, to).map_err(s.err(from))
            })();
            failures.record(r);
        }
        failures.finish(moves.len().max(1), "moves")
    })();
    finish(s, r)
}

/// `smb cp [-r] URL... DEST`: server-side copies, each to a temporary name renamed when
/// complete.
pub fn cp(ctx: &Ctx, args: &[String], recursive: bool) -> Result<(), Failure> {
    let first = Location::parse(&args[0])?;
    let s = Session::open(ctx, &first)?;
    let r = (|| {
        let mut failures = Failures::new();
        let plan = plan_moves(&s, &first, args, &mut failures)?;
        let mut files = Vec::new();
        for (from, to, is_dir) in plan {
            if !is_dir {
                files.push((from, to));
                continue;
            }
            if !recursive {
                failures.add(Failure::usage(format!(
                    "{} is a directory (use cp -r)",
                    s.shown(&from)
                )));
                continue;
            }
            if let Err(e) = s.remote.mkdir(&to, true) {
                failures.add(s.err(&to)(e));
                continue;
            }
            let root = from.clone();
            let walked = walk(
                &*s.remote,
                &root,
                &mut |dir, e, _| {
                    let src = join_path(dir, &e.name);
                    let dst = join_path(&to, &src[root.len() + 1..]);
                    if e.meta.is_dir {
                        s.remote.mkdir(&dst, true)?;
                    } else {
                        files.push((src, dst));
                    }
                    Ok(Visit::Descend)
                },
                &mut |dir, e| {
                    failures.add(s.err(dir)(e));
                    Ok(())
                },
            );
            if let Err(e) = walked {
                failures.add(interrupt::check().err().unwrap_or_else(|| s.err(&to)(e)));
            }
        }
        let t = ctx.ui.transfer("cp", files.len(), None);
        let ok = pool::run(
            &files,
            ctx.g.parallel as usize,
            |_| false,
            |(from, to)| {
                interrupt::check()?;
                let (parent, name) = split_parent(to);
                let temp = join_path(parent, &temp_name(name));
                let progress = t.file(name, None);
                let r = s
                    .remote
                    .copy(from, &temp)
                    .map_err(s.err(from))
                    .and_then(|n| s.remote.rename(&temp, to).map(|_| n).map_err(s.err(to)));
                match r {
                    Ok(n) => {
                        progress.advance(n);
                        progress.done(&s.shown(to), n);
                        Ok(())
                    }
                    Err(f) => {
                        let _ = s.remote.remove_file(&temp);
                        Err(f)
                    }
                }
            },
            &mut failures,
        );
        if interrupt::is_set() {
            failures.add(Failure::interrupted());
        }
        let what = files.first().map(|(_, to)| s.shown(to)).unwrap_or_default();
        t.finish(s.remote.runtime(), &what, ok);
        failures.finish(files.len().max(1), "copies")
    })();
    finish(s, r)
}
