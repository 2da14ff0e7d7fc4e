//! Fuzz the DCE/RPC decoders ([C706] 12.6: common header, BIND_ACK/BIND_NAK, RESPONSE,
//! FAULT, reassembly of fragments) and the srvsvc NetrShareEnum level 1 stub decoder
//! ([MS-SRVS] 3.1.4.8). The input is tried as one PDU, as a stream of PDUs of one call, and
//! as an NDR stub; nothing may panic, and a decoded listing re-encodes its types exactly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use smb_core::wire::rpc::{BindReply, Fault, PduHeader, Reassembly, ResponseFragment, pdu_len};
use smb_core::wire::srvsvc::{ShareType, decode_share_enum};

fuzz_target!(|data: &[u8]| {
    let _ = PduHeader::decode(data);
    let _ = BindReply::decode(data);
    let _ = Fault::decode(data);
    let _ = ResponseFragment::decode(data);
    // The input as the byte stream of one call's response, cut at each frag_length.
    let call_id = PduHeader::decode(data).map_or(0, |h| h.call_id);
    let mut r = Reassembly::new(call_id, 1 << 16);
    let mut rest = data;
    while let Ok(Some(len)) = pdu_len(rest) {
        if len > rest.len() {
            break;
        }
        let (pdu, tail) = rest.split_at(len);
        match r.push(pdu) {
            Ok(true) => {
                let _ = decode_share_enum(&r.into_stub());
                break;
            }
            Ok(false) => rest = tail,
            Err(_) => break,
        }
    }
    if let Ok(list) = decode_share_enum(data) {
        for s in list.shares {
            assert_eq!(ShareType::from_raw(s.share_type.to_raw()), s.share_type);
        }
    }
});
