//! The few GSS-API calls this crate needs, over `libgssapi-sys` (bindgen bindings generated
//! from the system's MIT krb5 headers). Every `unsafe` block of the crate is here; the types
//! own their handles and release them on drop.
#![allow(unsafe_code)]

use std::ffi::{CString, c_void};
use std::ptr;

use libgssapi_sys as sys;

/// 1.2.840.113554.1.2.2: Kerberos 5.
const KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// 1.2.840.113554.1.2.2.1: GSS_KRB5_NT_PRINCIPAL_NAME (a principal as written, no DNS).
const KRB5_NT_PRINCIPAL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x01];

/// A failed call: GSS major and minor (for krb5: a com_err code) and the library's text.
#[derive(Clone, Debug)]
pub(crate) struct Status {
    pub major: u32,
    pub minor: u32,
    pub message: String,
}

fn oid(bytes: &'static [u8]) -> sys::gss_OID_desc {
    sys::gss_OID_desc {
        length: bytes.len() as u32,
        elements: bytes.as_ptr() as *mut c_void,
    }
}

fn display(code: u32, kind: u32) -> String {
    let mut out = Vec::new();
    let mut msg_ctx: u32 = 0;
    let mut krb5 = oid(KRB5_OID);
    loop {
        let mut minor = 0;
        let mut buf = sys::gss_buffer_desc {
            length: 0,
            value: ptr::null_mut(),
        };
        // SAFETY: all pointers are valid for the call; buf is released below.
        let major = unsafe {
            sys::gss_display_status(
                &mut minor,
                code,
                kind as i32,
                &mut krb5,
                &mut msg_ctx,
                &mut buf,
            )
        };
        if major != 0 {
            break;
        }
        if !buf.value.is_null() {
            // SAFETY: the library returned `length` bytes at `value`.
            let s = unsafe { std::slice::from_raw_parts(buf.value as *const u8, buf.length) };
            out.push(String::from_utf8_lossy(s).into_owned());
            // SAFETY: buf came from the library.
            unsafe { sys::gss_release_buffer(&mut minor, &mut buf) };
        }
        if msg_ctx == 0 {
            break;
        }
    }
    out.join("; ")
}

fn check(major: u32, minor: u32) -> Result<u32, Status> {
    if major >> 16 == 0 {
        return Ok(major);
    }
    let mut message = display(major, sys::GSS_C_GSS_CODE);
    if minor != 0 {
        let m = display(minor, sys::GSS_C_MECH_CODE);
        if !m.is_empty() {
            message = format!("{message} ({m})");
        }
    }
    Err(Status {
        major,
        minor,
        message,
    })
}

/// An imported Kerberos principal name.
pub(crate) struct Name(sys::gss_name_t);

// SAFETY: GSS names are plain data owned by this handle.
unsafe impl Send for Name {}

impl Name {
    /// `cifs/host`, `alice@TEST.LAN`: imported as a krb5 principal (no canonicalization).
    pub fn principal(s: &str) -> Result<Name, Status> {
        let mut minor = 0;
        let mut buf = sys::gss_buffer_desc {
            length: s.len(),
            value: s.as_ptr() as *mut c_void,
        };
        let mut t = oid(KRB5_NT_PRINCIPAL);
        let mut name: sys::gss_name_t = ptr::null_mut();
        // SAFETY: buf and t outlive the call; the library copies the name.
        let major = unsafe { sys::gss_import_name(&mut minor, &mut buf, &mut t, &mut name) };
        check(major, minor)?;
        Ok(Name(name))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let mut minor = 0;
        if self.0.is_null() {
            return;
        }
        // SAFETY: the handle came from gss_import_name or gss_inquire_cred.
        unsafe { sys::gss_release_name(&mut minor, &mut self.0) };
    }
}

/// Initiator credentials.
pub(crate) struct Cred(sys::gss_cred_id_t);

// SAFETY: a credential handle is used by one context at a time (we never share it).
unsafe impl Send for Cred {}

impl Cred {
    /// gss_acquire_cred_from with the krb5 mechanism and a credential store (`ccache`,
    /// `client_keytab`, ...; empty: the defaults, KRB5CCNAME).
    pub fn acquire_from(name: Option<&Name>, store: &[(&str, &str)]) -> Result<Cred, Status> {
        let pairs: Vec<(CString, CString)> = store
            .iter()
            .map(|(k, v)| {
                (
                    CString::new(*k).unwrap_or_default(),
                    CString::new(*v).unwrap_or_default(),
                )
            })
            .collect();
        let mut elems: Vec<sys::gss_key_value_element_desc> = pairs
            .iter()
            .map(|(k, v)| sys::gss_key_value_element_desc {
                key: k.as_ptr(),
                value: v.as_ptr(),
            })
            .collect();
        let set = sys::gss_key_value_set_desc {
            count: elems.len() as u32,
            elements: elems.as_mut_ptr(),
        };
        let mut mech = oid(KRB5_OID);
        let mut mechs = sys::gss_OID_set_desc {
            count: 1,
            elements: &mut mech,
        };
        let mut minor = 0;
        let mut cred: sys::gss_cred_id_t = ptr::null_mut();
        // SAFETY: every pointer is valid for the duration of the call.
        let major = unsafe {
            sys::gss_acquire_cred_from(
                &mut minor,
                name.map_or(ptr::null_mut(), |n| n.0),
                sys::_GSS_C_INDEFINITE,
                &mut mechs,
                sys::GSS_C_INITIATE as i32,
                &set,
                &mut cred,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        check(major, minor)?;
        Ok(Cred(cred))
    }

    /// gss_acquire_cred_with_password: an initial ticket for `name` from the KDC.
    pub fn with_password(name: &Name, password: &str) -> Result<Cred, Status> {
        let mut mech = oid(KRB5_OID);
        let mut mechs = sys::gss_OID_set_desc {
            count: 1,
            elements: &mut mech,
        };
        let mut pw = sys::gss_buffer_desc {
            length: password.len(),
            value: password.as_ptr() as *mut c_void,
        };
        let mut minor = 0;
        let mut cred: sys::gss_cred_id_t = ptr::null_mut();
        // SAFETY: every pointer is valid for the duration of the call.
        let major = unsafe {
            sys::gss_acquire_cred_with_password(
                &mut minor,
                name.0,
                &mut pw,
                sys::_GSS_C_INDEFINITE,
                &mut mechs,
                sys::GSS_C_INITIATE as i32,
                &mut cred,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        check(major, minor)?;
        Ok(Cred(cred))
    }

    /// The remaining lifetime in seconds (0: expired).
    pub fn lifetime(&self) -> Result<u32, Status> {
        let mut minor = 0;
        let mut life = 0;
        // SAFETY: the handle is valid; unwanted outputs are null.
        let major = unsafe {
            sys::gss_inquire_cred(
                &mut minor,
                self.0,
                ptr::null_mut(),
                &mut life,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        check(major, minor)?;
        Ok(life)
    }

    /// The client principal the credential is for, as text (`alice@TEST.LAN`).
    pub fn principal(&self) -> Result<String, Status> {
        let mut minor = 0;
        let mut name = Name(ptr::null_mut());
        // SAFETY: the handle is valid; the name output is released by `Name`'s drop.
        let major = unsafe {
            sys::gss_inquire_cred(
                &mut minor,
                self.0,
                &mut name.0,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        check(major, minor)?;
        let mut buf = sys::gss_buffer_desc {
            length: 0,
            value: ptr::null_mut(),
        };
        // SAFETY: the name is valid; the buffer is released by take_buffer.
        let major = unsafe { sys::gss_display_name(&mut minor, name.0, &mut buf, ptr::null_mut()) };
        check(major, minor)?;
        Ok(String::from_utf8_lossy(&take_buffer(&mut buf)).into_owned())
    }
}

impl Drop for Cred {
    fn drop(&mut self) {
        let mut minor = 0;
        // SAFETY: the handle came from an acquire call.
        unsafe { sys::gss_release_cred(&mut minor, &mut self.0) };
    }
}

fn take_buffer(buf: &mut sys::gss_buffer_desc) -> Vec<u8> {
    if buf.value.is_null() {
        return Vec::new();
    }
    // SAFETY: the library returned `length` bytes at `value`.
    let v = unsafe { std::slice::from_raw_parts(buf.value as *const u8, buf.length) }.to_vec();
    let mut minor = 0;
    // SAFETY: buf came from the library.
    unsafe { sys::gss_release_buffer(&mut minor, buf) };
    v
}

/// An initiator security context (krb5 mechanism, no SPNEGO: the caller wraps the tokens).
pub(crate) struct Ctx {
    ctx: sys::gss_ctx_id_t,
    flags: u32,
    complete: bool,
}

// SAFETY: the context is used by one thread at a time (behind &mut).
unsafe impl Send for Ctx {}

impl Ctx {
    pub fn new() -> Ctx {
        Ctx {
            ctx: ptr::null_mut(),
            flags: 0,
            complete: false,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// True if the acceptor authenticated itself (the AP-REP checked out).
    pub fn mutual(&self) -> bool {
        self.flags & sys::GSS_C_MUTUAL_FLAG != 0
    }

    /// One gss_init_sec_context call; returns the token to send (maybe empty).
    pub fn step(
        &mut self,
        cred: &Cred,
        target: &Name,
        input: Option<&[u8]>,
    ) -> Result<Vec<u8>, Status> {
        let mut mech = oid(KRB5_OID);
        let mut inbuf = input.map(|t| sys::gss_buffer_desc {
            length: t.len(),
            value: t.as_ptr() as *mut c_void,
        });
        let mut out = sys::gss_buffer_desc {
            length: 0,
            value: ptr::null_mut(),
        };
        let mut minor = 0;
        let mut flags = 0;
        let req = sys::GSS_C_MUTUAL_FLAG | sys::GSS_C_INTEG_FLAG | sys::GSS_C_CONF_FLAG;
        // SAFETY: every pointer is valid for the duration of the call; out is released by
        // take_buffer.
        let major = unsafe {
            sys::gss_init_sec_context(
                &mut minor,
                cred.0,
                &mut self.ctx,
                target.0,
                &mut mech,
                req,
                0,
                ptr::null_mut(),
                inbuf.as_mut().map_or(ptr::null_mut(), |b| b as *mut _),
                ptr::null_mut(),
                &mut out,
                &mut flags,
                ptr::null_mut(),
            )
        };
        let token = take_buffer(&mut out);
        let major = check(major, minor)?;
        self.flags = flags;
        self.complete = major & sys::_GSS_S_CONTINUE_NEEDED == 0;
        Ok(token)
    }

    /// The session key of an established context (GSS_C_INQ_SSPI_SESSION_KEY: the acceptor's
    /// subkey when it sent one, as Windows' SSPI gives it).
    pub fn session_key(&self) -> Result<Vec<u8>, Status> {
        let mut minor = 0;
        let mut set: sys::gss_buffer_set_t = ptr::null_mut();
        // SAFETY: the context is established; the OID static is the library's.
        let major = unsafe {
            sys::gss_inquire_sec_context_by_oid(
                &mut minor,
                self.ctx,
                sys::GSS_C_INQ_SSPI_SESSION_KEY,
                &mut set,
            )
        };
        check(major, minor)?;
        let mut key = Vec::new();
        if !set.is_null() {
            // SAFETY: the set came from the library; element 0 is the key.
            unsafe {
                if (*set).count > 0 {
                    let e = &*(*set).elements;
                    key = std::slice::from_raw_parts(e.value as *const u8, e.length).to_vec();
                }
                sys::gss_release_buffer_set(&mut minor, &mut set);
            }
        }
        Ok(key)
    }

    /// gss_get_mic over `msg`.
    pub fn get_mic(&self, msg: &[u8]) -> Result<Vec<u8>, Status> {
        let mut m = sys::gss_buffer_desc {
            length: msg.len(),
            value: msg.as_ptr() as *mut c_void,
        };
        let mut out = sys::gss_buffer_desc {
            length: 0,
            value: ptr::null_mut(),
        };
        let mut minor = 0;
        // SAFETY: valid pointers; out is released by take_buffer.
        let major = unsafe { sys::gss_get_mic(&mut minor, self.ctx, 0, &mut m, &mut out) };
        let mic = take_buffer(&mut out);
        check(major, minor)?;
        Ok(mic)
    }

    /// gss_verify_mic of `mic` over `msg`.
    pub fn verify_mic(&self, msg: &[u8], mic: &[u8]) -> Result<(), Status> {
        let mut m = sys::gss_buffer_desc {
            length: msg.len(),
            value: msg.as_ptr() as *mut c_void,
        };
        let mut t = sys::gss_buffer_desc {
            length: mic.len(),
            value: mic.as_ptr() as *mut c_void,
        };
        let mut minor = 0;
        // SAFETY: valid pointers for the call.
        let major =
            unsafe { sys::gss_verify_mic(&mut minor, self.ctx, &mut m, &mut t, ptr::null_mut()) };
        check(major, minor).map(|_| ())
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        if !self.ctx.is_null() {
            let mut minor = 0;
            // SAFETY: the handle came from gss_init_sec_context.
            unsafe { sys::gss_delete_sec_context(&mut minor, &mut self.ctx, ptr::null_mut()) };
        }
    }
}
