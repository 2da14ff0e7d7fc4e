//! `get` and `put`: one file or many (patterns, several sources, `-r`), to a temporary name
//! renamed when complete, resumable with `--continue`, many small files in parallel on one
//! session, progress per file and in total.

use crate::error::{Failure, Failures, exit};
use crate::glob::{has_wildcard, matches};
use crate::interrupt::{self, TempPath};
use crate::location::{Location, is_url};
use crate::pool;
use crate::progress::{FileProgress, Transfer};
use crate::remote::Meta;
use crate::run::Ctx;
use crate::session::{Session, finish};
use crate::walk::{Visit, expand, walk};
use smb_core::url::{join_path, split_parent};
use std::fs;
use std::io::{self, IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Files up to this size move in one request each way (CREATE, READ/WRITE, CLOSE).
pub const SMALL: u64 = 1 << 20;
/// Size of one step of a streamed transfer (the adapters pipeline underneath).
const CHUNK: usize = 1 << 20;

/// The temporary name a transfer writes before renaming to `name`.
pub fn temp_name(name: &str) -> String {
    format!(".{name}.smbpart")
}

/// One file to download.
struct GetJob {
    remote: String,
    local: PathBuf,
    size: Option<u64>,
}

/// One file to upload.
struct PutJob {
    local: PathBuf,
    remote: String,
    size: u64,
}

/// Where the sources go.
enum Dest {
    /// Into this directory, each under its own name.
    Into(PathBuf),
    /// Exactly this path (one source).
    Exactly(PathBuf),
}

impl Dest {
    fn target(&self, name: &str) -> PathBuf {
        match self {
            Dest::Into(d) => d.join(name),
            Dest::Exactly(p) => p.clone(),
        }
    }
}

/// `smb get [-r] [-c] URL... [DEST]`.
pub fn get(ctx: &Ctx, args: &[String], recursive: bool, resume: bool) -> Result<(), Failure> {
    let (srcs, dest_arg) = match args.split_last() {
        Some((last, rest)) if !rest.is_empty() && !is_url(last) => (rest, Some(last.as_str())),
        _ => (args, None),
    };
    let first = Location::parse(&srcs[0])?;
    let mut paths = Vec::new();
    for s in srcs {
        if !is_url(s) {
            return Err(Failure::usage(format!(
                "{s:?} is not an smb:// URL (the local destination comes last)"
            )));
        }
        paths.push(first.sibling(s)?.0);
    }
    if dest_arg == Some("-") {
        if paths.len() != 1 || recursive || resume {
            return Err(Failure::usage(
                "get to stdout (-) takes one file, without -r or --continue",
            ));
        }
        let s = Session::open(ctx, &first)?;
        let r = crate::commands::cat_paths(&s, &paths);
        return finish(s, r);
    }
    let s = Session::open(ctx, &first)?;
    let r = get_in(ctx, &s, &paths, dest_arg, recursive, resume);
    finish(s, r)
}

fn get_in(
    ctx: &Ctx,
    s: &Session,
    paths: &[String],
    dest_arg: Option<&str>,
    recursive: bool,
    resume: bool,
) -> Result<(), Failure> {
    let remote = &*s.remote;
    let mut failures = Failures::new();
    // Expand patterns; a pattern that matches nothing is a failure of its own.
    let mut found = Vec::new();
    let mut patterns = false;
    for p in paths {
        if p.is_empty() && !recursive {
            failures.add(Failure::usage(format!(
                "{} is the share root: use get -r to download it",
                s.shown(p)
            )));
            continue;
        }
        patterns |= has_wildcard(p);
        match expand(remote, p) {
            Ok(v) if v.is_empty() => failures.add(no_match(&s.shown(p))),
            Ok(v) => found.extend(v),
            Err(e) => failures.add(s.err(p)(e)),
        }
    }
    let dest = match dest_arg {
        None => Dest::Into(PathBuf::from(".")),
        Some(d) => {
            let p = PathBuf::from(d);
            if p.is_dir() {
                Dest::Into(p)
            } else if d.ends_with('/') {
                fs::create_dir_all(&p).map_err(|e| Failure::local(&p, &e))?;
                Dest::Into(p)
            } else if found.len() > 1 || patterns {
                return Err(Failure::usage(format!(
                    "{d} is not a directory (several files are downloaded; end it with / to \
                     create it)"
                )));
            } else {
                Dest::Exactly(p)
            }
        }
    };
    let mut jobs = Vec::new();
    for f in found {
        let meta = match f.meta {
            Some(m) => m,
            None => match remote.metadata(&f.path) {
                Ok(m) => m,
                Err(e) => {
                    failures.add(s.err(&f.path)(e));
                    continue;
                }
            },
        };
        let name = match split_parent(&f.path).1 {
            "" => s.share.as_str(),
            n => n,
        };
        let target = dest.target(name);
        if !meta.is_dir {
            jobs.push(GetJob {
                remote: f.path,
                local: target,
                size: Some(meta.size),
            });
            continue;
        }
        if !recursive {
            failures.add(Failure::usage(format!(
                "{} is a directory (use get -r)",
                s.shown(&f.path)
            )));
            continue;
        }
        if let Err(e) = fs::create_dir_all(&target) {
            failures.add(Failure::local(&target, &e));
            continue;
        }
        let root = f.path.clone();
        let walked = walk(
            remote,
            &root,
            &mut |dir, e, _| {
                let full = join_path(dir, &e.name);
                let local = target.join(relative(&root, &full).replace('\\', "/"));
                if e.meta.is_dir {
                    fs::create_dir_all(&local)?;
                } else {
                    jobs.push(GetJob {
                        remote: join_path(dir, &e.name),
                        local,
                        size: Some(e.meta.size),
                    });
                }
                Ok(Visit::Descend)
            },
            &mut |dir, e| {
                failures.add(s.err(dir)(e));
                Ok(())
            },
        );
        if let Err(e) = walked {
            match interrupt::check() {
                Err(f) => failures.add(f),
                Ok(()) => failures.add(Failure::new(
                    exit::LOCAL_IO,
                    format!("creating local directories under {}: {e}", target.display()),
                )),
            }
        }
    }
    if failures.interrupted() {
        return failures.finish(1, "downloads");
    }
    let total: u64 = jobs.iter().filter_map(|j| j.size).sum();
    let t = ctx.ui.transfer("get", jobs.len(), Some(total));
    let ok = pool::run(
        &jobs,
        ctx.g.parallel as usize,
        |j| j.size.is_none_or(|n| n > SMALL),
        |j| get_one(s, j, resume, &t),
        &mut failures,
    );
    if interrupt::is_set() {
        failures.add(Failure::interrupted());
    }
    let what = jobs
        .first()
        .map(|j| j.local.display().to_string())
        .unwrap_or_default();
    t.finish(remote.runtime(), &what, ok);
    failures.finish(jobs.len().max(1), "downloads")
}

fn no_match(shown: &str) -> Failure {
    Failure::new(
        exit::NOT_FOUND,
        format!("no match: nothing matches {shown}"),
    )
}

/// `path` relative to `root` (both SMB form; `path` is inside `root`).
fn relative<'a>(root: &str, path: &'a str) -> &'a str {
    if root.is_empty() {
        path
    } else {
        path.get(root.len() + 1..).unwrap_or(path)
    }
}

/// Download one file to its temporary name, then rename it.
fn get_one(s: &Session, job: &GetJob, resume: bool, t: &Transfer) -> Result<(), Failure> {
    interrupt::check()?;
    let remote = &*s.remote;
    let err = s.err(&job.remote);
    let local_err = |p: &Path, e: io::Error| Failure::local(p, &e);
    let name = job
        .local
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Failure::usage(format!("{}: not a file name", job.local.display())))?;
    let temp = job.local.with_file_name(temp_name(&name));
    let size = job.size;
    let mut offset = 0;
    let temp_existed = fs::metadata(&temp).is_ok();
    if resume {
        if let Ok(m) = fs::metadata(&temp) {
            offset = m.len();
        } else if let Some(m) = fs::metadata(&job.local).ok().filter(|m| m.is_file()) {
            match size {
                Some(n) if m.len() == n => {
                    t.println(&format!("{} is complete already", job.local.display()));
                    return Ok(());
                }
                Some(n) if m.len() > n => {
                    return Err(Failure::new(
                        exit::LOCAL_IO,
                        format!(
                            "local file {} ({} bytes) is larger than {} ({n} bytes): not resuming",
                            job.local.display(),
                            m.len(),
                            s.shown(&job.remote)
                        ),
                    ));
                }
                _ => {
                    // The partial file moves to the temporary name while it grows.
                    fs::rename(&job.local, &temp).map_err(|e| local_err(&job.local, e))?;
                    offset = m.len();
                }
            }
        }
        if size.is_some_and(|n| offset > n) {
            return Err(Failure::new(
                exit::LOCAL_IO,
                format!(
                    "{} is larger than {}: not resuming",
                    temp.display(),
                    s.shown(&job.remote)
                ),
            ));
        }
    }
    if offset > 0 {
        let local_tail = read_tail(
            &mut fs::File::open(&temp).map_err(|e| local_err(&temp, e))?,
            offset,
        )
        .map_err(|e| local_err(&temp, e))?;
        let remote_tail = read_tail_remote(remote, &job.remote, offset).map_err(&err)?;
        if local_tail != remote_tail {
            if !temp_existed {
                // Put the user's file back where it was.
                let _ = fs::rename(&temp, &job.local);
            }
            return Err(mismatch(
                &temp_display(&temp, temp_existed, &job.local),
                &s.shown(&job.remote),
            ));
        }
    }
    let guard = TempPath::new(temp.clone());
    let progress = t.file(&name, size);
    progress.skip(offset);
    let copied = (|| -> Result<u64, Failure> {
        let mut out = if offset > 0 {
            fs::OpenOptions::new().append(true).open(&temp)
        } else {
            fs::File::create(&temp)
        }
        .map_err(|e| local_err(&temp, e))?;
        if offset == 0 && size.is_some_and(|n| n <= SMALL) {
            let data = remote.read_whole(&job.remote).map_err(&err)?;
            out.write_all(&data).map_err(|e| local_err(&temp, e))?;
            progress.advance(data.len() as u64);
            return Ok(data.len() as u64);
        }
        let mut src = remote.open_read(&job.remote, offset).map_err(&err)?;
        let n = copy(&mut *src, &mut out, &progress, &err, |e| {
            local_err(&temp, e)
        })?;
        out.flush().map_err(|e| local_err(&temp, e))?;
        Ok(n)
    })();
    match copied {
        Ok(n) => {
            guard
                .persist(&job.local)
                .map_err(|e| local_err(&job.local, e))?;
            progress.done(&job.local.display().to_string(), offset + n);
            Ok(())
        }
        Err(f) => {
            if resume {
                // What arrived stays under the temporary name for the next --continue.
                guard.keep();
            }
            Err(f)
        }
    }
}

/// Copy `src` to `dst` in [`CHUNK`] steps, stopping at Ctrl-C; returns the bytes copied.
fn copy(
    src: &mut dyn Read,
    dst: &mut dyn Write,
    progress: &FileProgress<'_>,
    read_err: impl Fn(io::Error) -> Failure,
    write_err: impl Fn(io::Error) -> Failure,
) -> Result<u64, Failure> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        interrupt::check()?;
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e)),
        };
        dst.write_all(&buf[..n]).map_err(&write_err)?;
        total += n as u64;
        progress.advance(n as u64);
    }
}

/// `smb put [-r] [-c] SRC... URL`.
pub fn put(ctx: &Ctx, args: &[String], recursive: bool, resume: bool) -> Result<(), Failure> {
    let Some((dest, srcs)) = args.split_last() else {
        return Err(Failure::usage("put needs sources and a destination URL"));
    };
    if !is_url(dest) {
        return Err(Failure::usage(format!(
            "the destination {dest:?} is not an smb:// URL (it comes last)"
        )));
    }
    let loc = Location::parse(dest)?;
    if has_wildcard(&loc.path) {
        return Err(Failure::bad_url(dest, "no wildcards in a destination"));
    }
    let stdin = srcs.iter().any(|s| s == "-");
    if stdin && (srcs.len() != 1 || recursive || resume) {
        return Err(Failure::usage(
            "put from stdin (-) takes one source, without -r or --continue",
        ));
    }
    let s = Session::open(ctx, &loc)?;
    let r = if stdin {
        put_stdin(ctx, &s, &loc)
    } else {
        put_in(ctx, &s, srcs, &loc, recursive, resume)
    };
    finish(s, r)
}

fn remote_is_dir(s: &Session, path: &str) -> Result<bool, Failure> {
    if path.is_empty() {
        return Ok(true);
    }
    match s.remote.metadata(path) {
        Ok(m) => Ok(m.is_dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(s.err(path)(e)),
    }
}

fn put_stdin(ctx: &Ctx, s: &Session, loc: &Location) -> Result<(), Failure> {
    if loc.trailing_slash || remote_is_dir(s, &loc.path)? {
        return Err(Failure::bad_url(
            &loc.describe(),
            "uploading stdin needs a file name in the URL",
        ));
    }
    if io::stdin().is_terminal() {
        ctx.ui
            .notice("reading the file from the terminal (end with Ctrl-D)");
    }
    let t = ctx.ui.transfer("put", 1, None);
    let r = upload(
        s,
        &mut io::stdin().lock(),
        Path::new("<stdin>"),
        &loc.path,
        None,
        None,
        0,
        &t,
    );
    let shown = s.shown(&loc.path);
    let ok = r.is_ok() as usize;
    t.finish(s.remote.runtime(), &shown, ok);
    r
}

fn put_in(
    ctx: &Ctx,
    s: &Session,
    srcs: &[String],
    loc: &Location,
    recursive: bool,
    resume: bool,
) -> Result<(), Failure> {
    let remote = &*s.remote;
    let mut failures = Failures::new();
    let mut sources: Vec<PathBuf> = Vec::new();
    let mut patterns = false;
    for src in srcs {
        let p = PathBuf::from(src);
        if p.symlink_metadata().is_ok() || !has_wildcard(src) {
            sources.push(p);
            continue;
        }
        // A quoted pattern the shell did not expand.
        patterns = true;
        match expand_local(&p) {
            Ok(v) if v.is_empty() => failures.add(Failure::new(
                exit::NOT_FOUND,
                format!("no match: no local file matches {src}"),
            )),
            Ok(v) => sources.extend(v),
            Err(e) => failures.add(Failure::local(&p, &e)),
        }
    }
    let into_dir = if remote_is_dir(s, &loc.path)? {
        true
    } else if loc.trailing_slash {
        remote.mkdir(&loc.path, true).map_err(s.err(&loc.path))?;
        true
    } else if sources.len() > 1 || patterns {
        return Err(Failure::usage(format!(
            "{} is not a directory (several files are uploaded; end the URL with / to create it)",
            s.shown(&loc.path)
        )));
    } else {
        false
    };
    let mut jobs = Vec::new();
    for src in sources {
        let meta = match fs::metadata(&src) {
            Ok(m) => m,
            Err(e) => {
                failures.add(Failure::local(&src, &e));
                continue;
            }
        };
        let name = match src.file_name().and_then(|n| n.to_str()) {
            Some(n) => n.to_string(),
            None => {
                let abs = fs::canonicalize(&src).unwrap_or_default();
                match abs.file_name().and_then(|n| n.to_str()) {
                    Some(n) => n.to_string(),
                    None => {
                        failures.add(Failure::usage(format!(
                            "{}: no usable file name",
                            src.display()
                        )));
                        continue;
                    }
                }
            }
        };
        let target = if into_dir {
            join_path(&loc.path, &name)
        } else {
            loc.path.clone()
        };
        if meta.is_file() {
            jobs.push(PutJob {
                local: src,
                remote: target,
                size: meta.len(),
            });
            continue;
        }
        if !meta.is_dir() {
            failures.add(Failure::usage(format!(
                "{} is not a regular file",
                src.display()
            )));
            continue;
        }
        if !recursive {
            failures.add(Failure::usage(format!(
                "{} is a directory (use put -r)",
                src.display()
            )));
            continue;
        }
        if let Err(f) = walk_local(s, &src, &target, &mut jobs, &mut failures) {
            failures.add(f);
        }
    }
    if failures.interrupted() {
        return failures.finish(1, "uploads");
    }
    let total = jobs.iter().map(|j| j.size).sum();
    let t = ctx.ui.transfer("put", jobs.len(), Some(total));
    let ok = pool::run(
        &jobs,
        ctx.g.parallel as usize,
        |j| j.size > SMALL,
        |j| put_one(s, j, resume, &t),
        &mut failures,
    );
    if interrupt::is_set() {
        failures.add(Failure::interrupted());
    }
    let what = jobs.first().map(|j| s.shown(&j.remote)).unwrap_or_default();
    t.finish(remote.runtime(), &what, ok);
    failures.finish(jobs.len().max(1), "uploads")
}

/// Local files matching a pattern in the last component of `p`, sorted.
fn expand_local(p: &Path) -> io::Result<Vec<PathBuf>> {
    let pattern = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut out = Vec::new();
    for e in fs::read_dir(&dir)? {
        let e = e?;
        if matches(&pattern, &e.file_name().to_string_lossy()) {
            out.push(dir.join(e.file_name()));
        }
    }
    out.sort();
    Ok(out)
}

/// Make the remote directories of the local tree `src` under `target` (parents first) and
/// queue its files.
fn walk_local(
    s: &Session,
    src: &Path,
    target: &str,
    jobs: &mut Vec<PutJob>,
    failures: &mut Failures,
) -> Result<(), Failure> {
    let mut dirs = vec![(src.to_path_buf(), target.to_string())];
    while let Some((dir, remote_dir)) = dirs.pop() {
        interrupt::check()?;
        match s.remote.mkdir(&remote_dir, false) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                failures.add(s.err(&remote_dir)(e));
                continue;
            }
        }
        let entries = match fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) => {
                failures.add(Failure::local(&dir, &e));
                continue;
            }
        };
        let mut subdirs = Vec::new();
        for e in entries {
            let e = match e {
                Ok(e) => e,
                Err(err) => {
                    failures.add(Failure::local(&dir, &err));
                    continue;
                }
            };
            let path = e.path();
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                failures.add(Failure::usage(format!(
                    "{}: the name is not UTF-8",
                    path.display()
                )));
                continue;
            };
            let remote = join_path(&remote_dir, &name);
            match fs::metadata(&path) {
                Ok(m) if m.is_dir() => subdirs.push((path, remote)),
                Ok(m) if m.is_file() => jobs.push(PutJob {
                    local: path,
                    remote,
                    size: m.len(),
                }),
                Ok(_) => failures.add(Failure::usage(format!(
                    "{} is not a regular file (skipped)",
                    path.display()
                ))),
                Err(err) => failures.add(Failure::local(&path, &err)),
            }
        }
        // Depth-first, in name order, so parents are always made before their children.
        subdirs.sort();
        dirs.extend(subdirs.into_iter().rev());
    }
    Ok(())
}

/// Upload one file to its temporary name, then rename it.
fn put_one(s: &Session, job: &PutJob, resume: bool, t: &Transfer) -> Result<(), Failure> {
    interrupt::check()?;
    let remote = &*s.remote;
    let (parent, name) = split_parent(&job.remote);
    let temp = join_path(parent, &temp_name(name));
    let mut offset = 0;
    let mut moved_final = false;
    if resume {
        match remote.metadata(&temp) {
            Ok(m) => offset = m.size,
            Err(e) if e.kind() == io::ErrorKind::NotFound => match remote.metadata(&job.remote) {
                Ok(m) if !m.is_dir && m.size == job.size => {
                    t.println(&format!("{} is complete already", s.shown(&job.remote)));
                    return Ok(());
                }
                Ok(m) if !m.is_dir && m.size < job.size => {
                    remote
                        .rename(&job.remote, &temp)
                        .map_err(s.err(&job.remote))?;
                    moved_final = true;
                    offset = m.size;
                }
                Ok(_) | Err(_) => {}
            },
            Err(e) => return Err(s.err(&temp)(e)),
        }
        if offset > job.size {
            return Err(Failure::new(
                exit::ALREADY_EXISTS,
                format!(
                    "{} is larger than {}: not resuming",
                    s.shown(&temp),
                    job.local.display()
                ),
            ));
        }
    }
    let mut file = fs::File::open(&job.local).map_err(|e| Failure::local(&job.local, &e))?;
    if offset > 0 {
        let local_tail =
            read_tail(&mut file, offset).map_err(|e| Failure::local(&job.local, &e))?;
        let remote_tail = read_tail_remote(remote, &temp, offset).map_err(s.err(&temp))?;
        if local_tail != remote_tail {
            if moved_final {
                let _ = remote.rename(&temp, &job.remote);
            }
            return Err(mismatch(&s.shown(&temp), &job.local.display().to_string()));
        }
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Failure::local(&job.local, &e))?;
    }
    let keep = resume.then_some(offset);
    let mut attempt = 0;
    loop {
        match upload(
            s,
            &mut file,
            &job.local,
            &job.remote,
            Some(job.size),
            keep,
            attempt,
            t,
        ) {
            // The server did not give the handle back after a cut (Samba can refuse when
            // writes it had accepted landed after the connection died). The temporary file
            // is ours, so the safe way on is to upload the whole file again under a new
            // temporary name: the old one stays held by the server's lost open for a while.
            Err(f) if f.handle_lost && keep.is_none() && attempt < LOST_HANDLE_RETRIES => {
                attempt += 1;
                tracing::info!("{}", f.message);
                t.println(&format!(
                    "{}: the server did not give the upload's handle back after the connection \
                     was lost; uploading it again from the start (as {})",
                    job.local.display(),
                    s.shown(&join_path(parent, &temp_name_try(name, attempt)))
                ));
                file.seek(SeekFrom::Start(0))
                    .map_err(|e| Failure::local(&job.local, &e))?;
            }
            r => return r,
        }
    }
}

/// Times an upload starts again after the server lost its handle.
const LOST_HANDLE_RETRIES: u32 = 3;

/// The temporary name of upload attempt `attempt` (0: the one `--continue` looks for).
fn temp_name_try(name: &str, attempt: u32) -> String {
    match attempt {
        0 => temp_name(name),
        n => format!("{}.{n}", temp_name(name)),
    }
}

/// Write `src` to the temporary name of `dest` for `attempt` (see [`temp_name_try`]), then
/// rename it to `dest`. With `resume = Some(offset)` the temporary file already holds
/// `offset` bytes and is kept on failure (for the next `--continue`); without, it is created
/// and removed on failure (unless the server lost its handle: then it still holds the file).
#[allow(clippy::too_many_arguments)]
fn upload(
    s: &Session,
    src: &mut dyn Read,
    local: &Path,
    dest: &str,
    size: Option<u64>,
    resume: Option<u64>,
    attempt: u32,
    t: &Transfer,
) -> Result<(), Failure> {
    let offset = resume.unwrap_or(0);
    let remote = &*s.remote;
    let (parent, name) = split_parent(dest);
    let temp = join_path(parent, &temp_name_try(name, attempt));
    let err = s.err(dest);
    let progress = t.file(name, size);
    progress.skip(offset);
    let written = (|| -> Result<u64, Failure> {
        if offset == 0 && size.is_some_and(|n| n <= SMALL) {
            let mut data = Vec::with_capacity(size.unwrap_or(0) as usize);
            src.read_to_end(&mut data)
                .map_err(|e| Failure::local(local, &e))?;
            let n = data.len() as u64;
            remote.write_whole(&temp, data).map_err(&err)?;
            progress.advance(n);
            return Ok(n);
        }
        let mut w = if offset > 0 {
            remote.open_at(&temp, offset)
        } else {
            remote.create(&temp)
        }
        .map_err(&err)?;
        let copied = copy(src, &mut w, &progress, |e| Failure::local(local, &e), &err);
        // Close the handle in every case, so the temporary file can be removed.
        let closed = w.finish().map_err(&err);
        let n = copied?;
        closed?;
        Ok(n)
    })();
    let renamed = written.and_then(|n| remote.rename(&temp, dest).map(|_| n).map_err(&err));
    match renamed {
        Ok(n) => {
            progress.done(&s.shown(dest), offset + n);
            Ok(())
        }
        Err(f) => {
            if f.handle_lost {
                // Removing it now would wait for the server's lost open to expire.
                t.println(&format!(
                    "left {} behind (the server still holds its lost handle; remove it later)",
                    s.shown(&temp)
                ));
            } else if resume.is_none() {
                let _ = remote.remove_file(&temp);
            }
            Err(f)
        }
    }
}

/// How much of the end of a partial file is compared with the other side before resuming.
const RESUME_CHECK: u64 = 64 * 1024;

/// The last (up to) [`RESUME_CHECK`] bytes before `end` of a local file.
fn read_tail(f: &mut fs::File, end: u64) -> io::Result<Vec<u8>> {
    let start = end.saturating_sub(RESUME_CHECK);
    f.seek(SeekFrom::Start(start))?;
    let mut v = vec![0u8; (end - start) as usize];
    f.read_exact(&mut v)?;
    Ok(v)
}

/// The same bytes of a remote file (fewer if it is shorter).
fn read_tail_remote(
    remote: &dyn crate::remote::Remote,
    path: &str,
    end: u64,
) -> io::Result<Vec<u8>> {
    let start = end.saturating_sub(RESUME_CHECK);
    let mut r = remote.open_read(path, start)?;
    let mut v = Vec::with_capacity((end - start) as usize);
    r.by_ref().take(end - start).read_to_end(&mut v)?;
    Ok(v)
}

/// The partial file and the source differ where they overlap: resuming would splice two
/// different files together.
fn mismatch(partial: &str, source: &str) -> Failure {
    Failure::new(
        exit::LOCAL_IO,
        format!(
            "{partial} does not match {source}: not resuming (remove it, or copy without \
             --continue)"
        ),
    )
}

fn temp_display(temp: &Path, temp_existed: bool, local: &Path) -> String {
    if temp_existed {
        temp.display().to_string()
    } else {
        local.display().to_string()
    }
}

/// Metadata, or `None` when `path` does not exist.
pub fn metadata_opt(s: &Session, path: &str) -> Result<Option<Meta>, Failure> {
    match s.remote.metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(s.err(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(temp_name("a.iso"), ".a.iso.smbpart");
        assert_eq!(relative("a\\b", "a\\b\\c\\d"), "c\\d");
        assert_eq!(relative("", "c"), "c");
    }
}
