//! Known-answer and round-trip tests for the crypto layer.
//!
//! Sources of the vectors are named next to each one. The two Microsoft Open
//! Specifications blog posts used are:
//! - [ANATOMY] "SMB 2 and SMB 3 security in Windows 10: the anatomy of signing and
//!   cryptographic keys" (2017), Appendix "Key derivation examples".
//! - [ENC311] "SMB 3.1.1 Encryption in Windows 10" (2015) and its predecessor [ENC30]
//!   "Encryption in SMB 3.0: A protocol perspective" (2012), sample test vectors
//!   (as also transcribed in the pike test suite, pike/test/test_smb3_encryption_vector.py).

use super::*;
use alloc::vec::Vec;

#[cfg(feature = "aws-lc")]
#[path = "tests_fast.rs"]
mod fast;

fn hex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    assert!(s.len() % 2 == 0, "odd hex length");
    s.chunks(2)
        .map(|c| u8::from_str_radix(core::str::from_utf8(c).unwrap(), 16).unwrap())
        .collect()
}

fn hex64(s: &str) -> [u8; 64] {
    hex(s).try_into().unwrap()
}

fn hex16(s: &str) -> [u8; 16] {
    hex(s).try_into().unwrap()
}

/// Every built-in provider: the known-answer tests run through each of them.
fn providers() -> Vec<(&'static str, alloc::sync::Arc<dyn CryptoProvider>)> {
    #[allow(unused_mut)]
    let mut v: Vec<(&'static str, alloc::sync::Arc<dyn CryptoProvider>)> =
        alloc::vec![("rustcrypto", alloc::sync::Arc::new(RustCryptoProvider))];
    #[cfg(feature = "aws-lc")]
    v.push(("aws-lc", alloc::sync::Arc::new(AwsLcProvider)));
    v
}

fn for_each_provider(f: impl Fn(&dyn CryptoProvider)) {
    for (_name, p) in providers() {
        f(&*p);
    }
}

// ---------------------------------------------------------------------------------------
// [ANATOMY] SMB 3.1.1 multichannel example, master session (first channel).

const A_NEG_REQ: &str =
    "FE534D4240000100000000000000800000000000000000000100000000000000FFFE000000000000
00000000000000000000000000000000000000000000000024000500000000003F000000ECD86F32
6276024F9F7752B89BB33F3A70000000020000000202100200030203110300000100260000000000
010020000100FA49E6578F1F3A9F4CD3E9CC14A67AA884B3D05844E0E5A118225C15887F32FF0000
0200060000000000020002000100";
const A_H1: &str =
    "DD94EFC5321BB618A2E208BA8920D2F422992526947A409B5037DE1E0FE8C7362B8C47122594CDE0
CE26AA9DFC8BCDBDE0621957672623351A7540F1E54A0426";
const A_NEG_RESP: &str =
    "FE534D4240000100000000000000010001000000000000000100000000000000FFFE000000000000
000000000000000000000000000000000000000000000000410001001103020039CBCAF329714942
BDCE5D60F09AB3FB2F000000000080000000800000008000D8DAE5ADCBAED00109094AB095AED001
80004001C00100006082013C06062B0601050502A08201303082012CA01A3018060A2B0601040182
3702021E060A2B06010401823702020AA282010C048201084E45474F455854530100000000000000
60000000700000007C7CC0FD06D6362D02DDE1CF343BFE292900F49750B4AA97934D9C4296B26E51
FD370471B235E15A50DAE15BD5489C87000000000000000060000000010000000000000000000000
5C33530DEAF90D4DB2EC4AE3786EC3084E45474F4558545303000000010000004000000098000000
7C7CC0FD06D6362D02DDE1CF343BFE295C33530DEAF90D4DB2EC4AE3786EC3084000000058000000
3056A05430523027802530233121301F06035504031318546F6B656E205369676E696E6720507562
6C6963204B65793027802530233121301F06035504031318546F6B656E205369676E696E67205075
626C6963204B6579010026000000000001002000010060A3C3B95C3C7CCD51EC536648D9B3AC74C4
83CA5B65385A251117BEB30712E50000020004000000000001000200";
const A_H2: &str =
    "324BFA92A4F3A190E466EBEA08D9C110DC88BFED758D9846ECC6F541CC1D02AE3C94A79F36011E99
7E13F841B91B50957AD07B19C8E2539C0B23FDAE09D2C513";
const A_SS_REQ1: &str =
    "FE534D4240000100000000000100800000000000000000000200000000000000FFFE000000000000
00000000000000000000000000000000000000000000000019000001010000000000000058004A00
0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A
04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000
000F";
const A_H3: &str =
    "AC0B0F2B9986257700365E416D142A6EDC96DF03594A19E52A15F6BD0D041CD5D432F8ED42C55E33
197A50C9EC00F1462B50C592211B1471A04B56088FDFD5F9";
const A_SS_RESP1: &str =
    "FE534D4240000100160000C00100010001000000000000000200000000000000FFFE000000000000
190000000010000000000000000000000000000000000000090000004800B300A181B03081ADA003
0A0101A10C060A2B06010401823702020AA281970481944E544C4D53535000020000000C000C0038
00000015828AE20D1D8BA31179D008000000000000000050005000440000000A0092270000000F53
005500540033003100310002000C0053005500540033003100310001000C00530055005400330031
00310004000C0053005500540033003100310003000C0053005500540033003100310007000800A1
A1F5ADCBAED00100000000";
const A_H4: &str =
    "2729E3440DFDDD839E37193F6E8F20C20CEFB3469E453A70CD980EEC06B8835740A7376008563336
4C8989895ECE81BF102DEEB14D4B7D48AFA76901A7A38387";
const A_SS_REQ2: &str =
    "FE534D4240000100000000000100800000000000000000000300000000000000FFFE000000000000
1900000000100000000000000000000000000000000000001900000101000000000000005800CF01
0000000000000000A18201CB308201C7A0030A0101A28201AA048201A64E544C4D53535000030000
001800180090000000EE00EE00A80000000C000C00580000001A001A0064000000120012007E0000
001000100096010000158288E2060380250000000FECAC77A5F385A8BF9C38C706EEEDDCD3530055
005400330031003100610064006D0069006E006900730074007200610074006F0072004400520049
0056004500520033003100310000000000000000000000000000000000000000000000000063078E
B639FE03E20A231C3AE3BF23080101000000000000A1A1F5ADCBAED001BC4AD05F223CC90F000000
0002000C0053005500540033003100310001000C0053005500540033003100310004000C00530055
00540033003100310003000C0053005500540033003100310007000800A1A1F5ADCBAED001060004
00020000000800300030000000000000000000000000300000B61FEFCAA857EA57BF1EDCEBF8974B
8E0EBA5A6DFD9D07A31D11B548F8C9D0CC0A00100000000000000000000000000000000000090016
0063006900660073002F005300550054003300310031000000000000000000000000003B9BDFF38F
5EE8F9663F11A0F4C03A78A31204100100000063775A9A5FD97F0600000000";
const A_H5: &str =
    "0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB7928622DDDAD522D97
51640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01";
/// Final SESSION_SETUP response (STATUS_SUCCESS), signed; not part of the pre-auth hash.
const A_SS_RESP2: &str =
    "FE534D4240000100000000000100800009000000000000000300000000000000FFFE000000000000
1900000000100000EBE146DA120BA25FC3376A49DFE31BC10900000048001D00A11B3019A0030A01
00A3120410010000003B453CDC3524164200000000";
const A_SESSION_KEY: &str = "270E1BA896585EEB7AF3472D3B4C75A7";

// [ANATOMY] second channel (session binding) of the 3.1.1 example.
const B_SS_REQ1: &str =
    "FE534D4240000100000000000100800008000000000000000200000000000000FFFE000000000000
190000000010000068BD0C58F613CE1334B1EB51C68D39EA19000101010000000000000058004A00
0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A
04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000
000F";
const B_SS_RESP2: &str =
    "FE534D4240000100000000000100800009000000000000000300000000000000FFFE000000000000
19000000001000008D604217FFBACF40635BF9D8729921500900000048001D00A11B3019A0030A01
00A312041001000000CFB046FC5D368E2200000000";
const B_H5: &str =
    "EA3BF912B11CBFEC5B1889E8209614218687F82FA5294521AD3063425E49E88A10BD022124CE2512
3BC9111F52D9566BA88BF46344E6063DC5E3FF0389026F6C";
const B_SESSION_KEY: &str = "84B9DBB730116A8FA6E9889555C265F9";

#[test]
fn preauth_hash_chain_anatomy_311() {
    // [ANATOMY]: NEGOTIATE request/response on the connection, then the session's
    // SESSION_SETUP exchanges except the final success response.
    let mut h = PreauthHash::new();
    assert_eq!(h.value(), &[0u8; 64]);
    h.update(&hex(A_NEG_REQ));
    assert_eq!(h.value(), &hex64(A_H1));
    h.update(&hex(A_NEG_RESP));
    assert_eq!(h.value(), &hex64(A_H2));
    let connection = h.clone();
    h.update(&hex(A_SS_REQ1));
    assert_eq!(h.value(), &hex64(A_H3));
    // Chunked update gives the same result as one slice.
    let resp1 = hex(A_SS_RESP1);
    let (a, b) = resp1.split_at(70);
    h.update_parts(&[a, b]);
    assert_eq!(h.value(), &hex64(A_H4));
    h.update(&hex(A_SS_REQ2));
    assert_eq!(h.value(), &hex64(A_H5));
    // The connection's value is unaffected by the session's chain.
    assert_eq!(connection.value(), &hex64(A_H2));
}

#[test]
fn session_keys_anatomy_311() {
    // [ANATOMY] "Dialect 0x0311", CypherId 0x0002.
    let hash = hex64(A_H5);
    let keys = SessionKeys::derive(
        0x0311,
        &hex(A_SESSION_KEY),
        Some(&hash),
        Some(CipherId::Aes128Gcm),
        None,
    )
    .unwrap();
    assert_eq!(keys.signing_algorithm, SigningAlgorithm::AesCmac);
    assert_eq!(
        keys.signing.as_bytes(),
        hex("73FE7A9A77BEF0BDE49C650D8CCB5F76")
    );
    assert_eq!(
        keys.encryption.as_ref().unwrap().as_bytes(),
        hex("629BCBC54422A0F572B97F45989B6073")
    );
    assert_eq!(
        keys.decryption.as_ref().unwrap().as_bytes(),
        hex("E2AF0DCEFAC68DA71A0DFBD0D1350D74")
    );
    assert_eq!(
        keys.application.as_bytes(),
        hex("6D7AD7954E9EC61E907B4D473DC178FF")
    );

    // Second channel: Channel.SigningKey from the binding's own key and hash.
    let ch =
        SessionKeys::derive_signing_key(0x0311, &hex(B_SESSION_KEY), Some(&hex64(B_H5))).unwrap();
    assert_eq!(ch.as_bytes(), hex("C962BCA1A9DD1697B030644199705431"));
}

#[test]
fn session_keys_anatomy_30() {
    // [ANATOMY] "Key derivation example for SMB 3.0 multichannel", Dialect 0x0300.
    let keys = SessionKeys::derive(
        0x0300,
        &hex("7CD451825D0450D235424E44BA6E78CC"),
        None,
        Some(CipherId::Aes128Ccm),
        None,
    )
    .unwrap();
    assert_eq!(
        keys.signing.as_bytes(),
        hex("0B7E9C5CAC36C0F6EA9AB275298CEDCE")
    );
    assert_eq!(
        keys.encryption.as_ref().unwrap().as_bytes(),
        hex("FAD27796665B313EBB578F388632B4F7")
    );
    assert_eq!(
        keys.decryption.as_ref().unwrap().as_bytes(),
        hex("B0F0427F7CEB416D1D9DCC0CD4F99447")
    );
    assert_eq!(
        keys.application.as_bytes(),
        hex("BB23A4575AA26C721AF525AF15A87B4F")
    );
    // Second channel (session binding).
    let ch =
        SessionKeys::derive_signing_key(0x0300, &hex("4E01A2B313BCF660CC250BEF021AEDE6"), None)
            .unwrap();
    assert_eq!(ch.as_bytes(), hex("BA1A17DBBFEC349BCA105563D598952F"));
    // 3.0.2 uses the same labels.
    let k302 = SessionKeys::derive(
        0x0302,
        &hex("7CD451825D0450D235424E44BA6E78CC"),
        None,
        None,
        None,
    )
    .unwrap();
    assert!(k302.signing.ct_eq(&keys.signing));
    assert!(k302.encryption.is_none() && k302.decryption.is_none());
}

#[test]
fn kdf_function_matches_session_keys() {
    // [ANATOMY] 3.0 SigningKey through the bare KDF, labels with their NULs.
    let k = kdf(
        &hex("7CD451825D0450D235424E44BA6E78CC"),
        b"SMB2AESCMAC\0",
        b"SmbSign\0",
        16,
    );
    assert_eq!(k.as_bytes(), hex("0B7E9C5CAC36C0F6EA9AB275298CEDCE"));
}

#[test]
fn signing_verify_anatomy_final_session_setup_response() {
    for_each_provider(signing_verify_anatomy_final_session_setup_response_with);
}

fn signing_verify_anatomy_final_session_setup_response_with(p: &dyn CryptoProvider) {
    // [ANATOMY]: the final SESSION_SETUP response of the master session is signed by the
    // server (AES-128-CMAC, 3.1.1 without SIGNING_CAPABILITIES) with the derived SigningKey.
    let signer = p
        .signer(
            SigningAlgorithm::AesCmac,
            &hex("73FE7A9A77BEF0BDE49C650D8CCB5F76"),
        )
        .unwrap();
    let msg = hex(A_SS_RESP2);
    assert_eq!(&msg[48..64], &hex("EBE146DA120BA25FC3376A49DFE31BC1")[..]);
    signer.verify(&msg).unwrap();
    // Re-signing a copy with the signature zeroed reproduces the same bytes.
    let mut copy = msg.clone();
    copy[48..64].fill(0);
    signer.sign(&mut copy).unwrap();
    assert_eq!(copy, msg);
    // Any flipped bit fails, and verify left its input alone.
    for i in [0usize, 20, 47, 50, 63, 64, msg.len() - 1] {
        let mut bad = msg.clone();
        bad[i] ^= 0x01;
        assert_eq!(
            signer.verify(&bad),
            Err(CryptoError::BadSignature),
            "byte {i}"
        );
    }
    // A different key fails.
    let other = p
        .signer(
            SigningAlgorithm::AesCmac,
            &hex("C962BCA1A9DD1697B030644199705431"),
        )
        .unwrap();
    assert_eq!(other.verify(&msg), Err(CryptoError::BadSignature));
}

#[test]
fn signing_verify_anatomy_session_binding() {
    for_each_provider(signing_verify_anatomy_session_binding_with);
}

fn signing_verify_anatomy_session_binding_with(p: &dyn CryptoProvider) {
    // [ANATOMY] second channel: the binding SESSION_SETUP request is signed with the
    // session's SigningKey, the final binding response with the new Channel.SigningKey.
    let session = p
        .signer(
            SigningAlgorithm::AesCmac,
            &hex("73FE7A9A77BEF0BDE49C650D8CCB5F76"),
        )
        .unwrap();
    let channel = p
        .signer(
            SigningAlgorithm::AesCmac,
            &hex("C962BCA1A9DD1697B030644199705431"),
        )
        .unwrap();
    let req = hex(B_SS_REQ1);
    let resp = hex(B_SS_RESP2);
    session.verify(&req).unwrap();
    assert_eq!(channel.verify(&req), Err(CryptoError::BadSignature));
    channel.verify(&resp).unwrap();
    assert_eq!(session.verify(&resp), Err(CryptoError::BadSignature));
    // Signing the request from scratch (flag cleared, signature zeroed) reproduces it.
    let mut fresh = req.clone();
    fresh[16] &= !0x08;
    fresh[48..64].fill(0);
    session.sign(&mut fresh).unwrap();
    assert_eq!(fresh, req);
}

// ---------------------------------------------------------------------------------------
// [ENC30] / [ENC311] encryption vectors.

#[test]
fn encryption_smb30_ccm_encrypt() {
    for_each_provider(encryption_smb30_ccm_encrypt_with);
}

fn encryption_smb30_ccm_encrypt_with(p: &dyn CryptoProvider) {
    // [ENC30]: SessionKey, EncryptionKey, a WRITE request and its TRANSFORM_HEADER.
    let keys = SessionKeys::derive(
        0x0300,
        &hex("B4546771B515F766A86735532DD6C4F0"),
        None,
        Some(CipherId::Aes128Ccm),
        None,
    )
    .unwrap();
    let enc = keys.encryption.as_ref().unwrap();
    assert_eq!(enc.as_bytes(), hex("261B72350558F2E9DCF613070383EDBF"));
    assert_eq!(
        keys.decryption.as_ref().unwrap().as_bytes(),
        hex("8FE2B57EC34D2DB5B1A9727F526BBDB5")
    );
    let plain = hex(
        "FE534D4240000100000000000900400008000000000000000400000000000000
         FFFE0000010000001100001400E4080000000000000000000000000000000000
         3100700017000000000000000000000015010000390000020100000039020000
         00000000000000007000000000000000536D623320656E6372797074696F6E20
         74657374696E67",
    );
    let expected = hex(
        "FD534D4281A286535415445DAE393921E44FA42E66E69A111892584FB5ED524A
         744DA3EE87000000000001001100001400E4080025C8FEE16605A437832D1CD5
         2DA9F4645333482A175FE5384563F45FCDAFAEF38BC62BA4D5C62897996625A4
         4C29BE5658DE2E6117585779E7B59FFD971278D08580D7FA899E410E910EABF5
         AA1DB43050B33B49182637759AC15D84BFCDF5B6B238993C0F4CF4D6012023F6
         C627297075D84B7803912D0A9639634453595EF3E33FFE4E7AC2AB",
    );
    let cipher = keys.encryptor(p).unwrap().unwrap();
    // Transform header as the sender fills it, Signature still zero.
    let mut th = expected[..52].to_vec();
    th[4..20].fill(0);
    let mut buf = plain.clone();
    cipher.seal(&mut th, &mut buf).unwrap();
    assert_eq!(th, &expected[..52]);
    assert_eq!(buf, &expected[52..]);

    // The same through encrypt_in_place with the 16-byte nonce field and the 11-byte nonce.
    for nonce in [&expected[20..36], &expected[20..31]] {
        let mut buf = plain.clone();
        let tag = cipher
            .encrypt_in_place(nonce, &expected[TRANSFORM_AAD_RANGE], &mut buf)
            .unwrap();
        assert_eq!(&tag[..], &expected[4..20]);
        assert_eq!(buf, &expected[52..]);
    }
}

#[test]
fn encryption_smb30_ccm_decrypt() {
    for_each_provider(encryption_smb30_ccm_decrypt_with);
}

fn encryption_smb30_ccm_decrypt_with(p: &dyn CryptoProvider) {
    // [ENC30]: a server response to decrypt with the DecryptionKey.
    let keys = SessionKeys::derive(
        0x0300,
        &hex("B4546771B515F766A86735532DD6C4F0"),
        None,
        Some(CipherId::Aes128Ccm),
        None,
    )
    .unwrap();
    let msg = hex(
        "FD534D42A6015530A18F6D9AFFE22AFAE8E66484860000000000000011000014
         00E4080050000000000001001100001400E40800DBF46435C5F14169293CE079
         E344479BF670227E49873F458672C3098DAC467DD5809F369D67409166515787
         1483E01F7BECD02064EAC3E235F913668BBC2F097980D4B378F1993EFF6E60D1
         77309E5B",
    );
    let expected = hex(
        "FE534D4240000100000000000900210009000000000000000400000000000000
         FFFE0000010000001100001400E4080000000000000000000000000000000000
         11000000170000000000000000000000",
    );
    let cipher = keys.decryptor(p).unwrap().unwrap();
    let (th, body) = msg.split_at(52);
    let mut buf = body.to_vec();
    cipher.open(th, &mut buf).unwrap();
    assert_eq!(buf, expected);

    // Wrong tag, tampered AAD or ciphertext, or the other direction's key: rejected.
    let mut tag = hex16("A6015530A18F6D9AFFE22AFAE8E66484");
    tag[15] ^= 1;
    let mut buf = body.to_vec();
    assert_eq!(
        cipher.decrypt_in_place(&th[20..36], &th[TRANSFORM_AAD_RANGE], &mut buf, &tag),
        Err(CryptoError::DecryptFailed)
    );
    let mut bad_th = th.to_vec();
    bad_th[44] ^= 1; // SessionId is authenticated
    let mut buf = body.to_vec();
    assert_eq!(
        cipher.open(&bad_th, &mut buf),
        Err(CryptoError::DecryptFailed)
    );
    let mut buf = body.to_vec();
    buf[3] ^= 0x80;
    assert_eq!(cipher.open(th, &mut buf), Err(CryptoError::DecryptFailed));
    let wrong = keys.encryptor(p).unwrap().unwrap();
    let mut buf = body.to_vec();
    assert_eq!(wrong.open(th, &mut buf), Err(CryptoError::DecryptFailed));
}

const E311_SESSION_KEY: &str = "419FDDF34C1E001909D362AE7FB6AF79";
const E311_PREAUTH: &str = "B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDB
A7DB256BA2EA30E977F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770";

#[test]
fn encryption_smb311_gcm_encrypt() {
    for_each_provider(encryption_smb311_gcm_encrypt_with);
}

fn encryption_smb311_gcm_encrypt_with(p: &dyn CryptoProvider) {
    // [ENC311]: AES-128-GCM, a WRITE request.
    let keys = SessionKeys::derive(
        0x0311,
        &hex(E311_SESSION_KEY),
        Some(&hex64(E311_PREAUTH)),
        Some(CipherId::Aes128Gcm),
        None,
    )
    .unwrap();
    assert_eq!(
        keys.encryption.as_ref().unwrap().as_bytes(),
        hex("A2F5E80E5D59103034F32E52F698E5EC")
    );
    let plain = hex(
        "FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000
         25000000001000000000000000000000000000000000000031007000170000000000000000000000
         0600000004000000010000000400000000000000000000007000000000000000536D623320656E63
         72797074696F6E2074657374696E67",
    );
    let expected = hex(
        "FD534D42BD73D97D2BC9001BCAFAC0FDFF5FEEBCC7D6822D269CAF48904C664C0000000087000000
         0000010025000000001000006ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02
         D14EF247F8BDE38ACF6256F8B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB4
         4576545567C24D4C014D47C9FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E9
         1AF013F00D17E3ABC2FC3D36C8C1B6B93973253852DBD442E46EE8",
    );
    let cipher = p
        .cipher(
            CipherId::Aes128Gcm,
            keys.encryption.as_ref().unwrap().as_bytes(),
        )
        .unwrap();
    let mut th = expected[..52].to_vec();
    th[4..20].fill(0);
    let mut buf = plain.clone();
    cipher.seal(&mut th, &mut buf).unwrap();
    assert_eq!(th, &expected[..52]);
    assert_eq!(buf, &expected[52..]);
    // Decrypting it back with the same key restores the plaintext.
    cipher.open(&th, &mut buf).unwrap();
    assert_eq!(buf, plain);
}

#[test]
fn encryption_smb311_gcm_decrypt() {
    for_each_provider(encryption_smb311_gcm_decrypt_with);
}

fn encryption_smb311_gcm_decrypt_with(p: &dyn CryptoProvider) {
    // [ENC311]: the server's response.
    let keys = SessionKeys::derive(
        0x0311,
        &hex(E311_SESSION_KEY),
        Some(&hex64(E311_PREAUTH)),
        Some(CipherId::Aes128Gcm),
        None,
    )
    .unwrap();
    assert_eq!(
        keys.decryption.as_ref().unwrap().as_bytes(),
        hex("748C50868C90F302962A5C35F5F9A8BF")
    );
    let msg = hex(
        "FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000
         00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8
         F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B
         82E03C9E18A050FF0EA1C967",
    );
    let expected = hex(
        "FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000
         25000000001000000000000000000000000000000000000011000000170000000000000000000000",
    );
    let cipher = keys.decryptor(p).unwrap().unwrap();
    let (th, body) = msg.split_at(52);
    let mut buf = body.to_vec();
    cipher.open(th, &mut buf).unwrap();
    assert_eq!(buf, expected);
    let mut tag: [u8; 16] = th[4..20].try_into().unwrap();
    tag[0] ^= 0x40;
    let mut buf = body.to_vec();
    assert_eq!(
        cipher.decrypt_in_place(&th[20..32], &th[TRANSFORM_AAD_RANGE], &mut buf, &tag),
        Err(CryptoError::DecryptFailed)
    );
}

// ---------------------------------------------------------------------------------------
// AES-256: no published SMB vectors were found; these references were computed with
// pyca/cryptography 48 (OpenSSL 3.0) AESCCM/AESGCM, and the L = 256 KDF outputs with a
// separate Python SP800-108 implementation (hmac/hashlib).

const FULL_KEY_32: [u8; 32] = {
    let mut k = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        k[i] = 0x20 + i as u8;
        i += 1;
    }
    k
};

#[test]
fn session_keys_aes256_use_full_key_and_l256() {
    for c in [CipherId::Aes256Ccm, CipherId::Aes256Gcm] {
        let keys =
            SessionKeys::derive(0x0311, &FULL_KEY_32, Some(&hex64(A_H5)), Some(c), None).unwrap();
        assert_eq!(
            keys.encryption.as_ref().unwrap().as_bytes(),
            hex("81f58d11b8a0a1a1b632f5dab11a0c8fe716592c18644ef50ebe2995eed48ee8")
        );
        assert_eq!(
            keys.decryption.as_ref().unwrap().as_bytes(),
            hex("f9966992c8f66ae39552c75524324b5a48d4288d1bafb99378622f14ba492b35")
        );
        // The signing key stays 128-bit, from the first 16 bytes of the key.
        assert_eq!(
            keys.signing.as_bytes(),
            hex("d23d497e7c70d42575d453017208c436")
        );
    }
}

const AES256_PLAIN: &str = "FE534D4240000100000000000900010001000000000000000500000000000000
FFFE00000100000025000000001000000000000000000000000000000000000011000000170000000000000000000000";

fn aes256_case(id: CipherId, aad: &str, ct: &str, tag: &str) {
    for_each_provider(|p| aes256_case_with(p, id, aad, ct, tag));
}

fn aes256_case_with(p: &dyn CryptoProvider, id: CipherId, aad: &str, ct: &str, tag: &str) {
    let keys =
        SessionKeys::derive(0x0311, &FULL_KEY_32, Some(&hex64(A_H5)), Some(id), None).unwrap();
    let cipher = keys.encryptor(p).unwrap().unwrap();
    let field = hex("0102030405060708090A0B0C00000000");
    let nonce = &field[..id.nonce_len()];
    let aad = hex(aad);
    let plain = hex(AES256_PLAIN);
    let mut buf = plain.clone();
    let t = cipher.encrypt_in_place(nonce, &aad, &mut buf).unwrap();
    assert_eq!(buf, hex(ct));
    assert_eq!(&t[..], &hex(tag)[..]);
    cipher.decrypt_in_place(nonce, &aad, &mut buf, &t).unwrap();
    assert_eq!(buf, plain);
}

#[test]
fn encryption_aes256_ccm_reference() {
    aes256_case(
        CipherId::Aes256Ccm,
        "0102030405060708090a0b000000000050000000000001002500000000100000",
        "69701103ee72d5acabab6fdd71851cd5d122488e46cbd0353e38a85786e2bdc7d59f05970299c94ce66ca97c064f8d647b5d1ccae69584cd6bace86cf7c69694e90bc8c7eb95624f56b3888f1c84764b",
        "6dc1b7c81c6e9cdee04461dd510d511c",
    );
}

#[test]
fn encryption_aes256_gcm_reference() {
    aes256_case(
        CipherId::Aes256Gcm,
        "0102030405060708090a0b0c0000000050000000000001002500000000100000",
        "5987e2db682f60a7111a08303f656a3d46512da208d172f34f328f0b21458de2c2e69d5099582418e41be57cc861877e87083082003916bc22a4c5e2947a51902be8e325608e3998430d4f3d2d58bfd9",
        "8fdeba3df486f635794466f4c008d9a6",
    );
}

// ---------------------------------------------------------------------------------------
// Signing algorithms other than the [ANATOMY] CMAC vectors.

#[test]
fn gmac_signing_reference() {
    for_each_provider(gmac_signing_reference_with);
}

fn gmac_signing_reference_with(p: &dyn CryptoProvider) {
    // AES-128-GMAC references computed with pyca/cryptography AESGCM(key).encrypt(nonce,
    // b"", aad=message with zeroed signature), the nonce built per [MS-SMB2] 3.1.4.1.
    let key = hex("73FE7A9A77BEF0BDE49C650D8CCB5F76");
    let signer = p.signer(SigningAlgorithm::AesGmac, &key).unwrap();
    // A server response: MessageId 3, SERVER_TO_REDIR set -> nonce role bit 0 = 1.
    let mut resp = hex(A_SS_RESP2);
    resp[48..64].fill(0);
    signer.sign(&mut resp).unwrap();
    assert_eq!(&resp[48..64], &hex("75d05bac99ff7fcc52a44c354381d559")[..]);
    signer.verify(&resp).unwrap();
    // A client CANCEL request: nonce bit 1 = 1.
    let mut cancel = hex(
        "fe534d4240000000000000000c00000008000000000000008877665544332211
         0000000000000000190000000010000000000000000000000000000000000000
         04000000",
    );
    signer.sign(&mut cancel).unwrap();
    assert_eq!(
        &cancel[48..64],
        &hex("073f8ae1e6423f0f810914b7a6fa6b07")[..]
    );
    // The nonce binds the direction: flipping SERVER_TO_REDIR (and re-signing) changes it.
    let mut as_request = resp.clone();
    as_request[16] &= !0x01;
    let t_req = {
        signer.sign(&mut as_request).unwrap();
        as_request[48..64].to_vec()
    };
    assert_ne!(&t_req[..], &resp[48..64]);
}

#[test]
fn gmac_nonce_layout() {
    let mut hdr = [0u8; 64];
    hdr[24..32].copy_from_slice(&0x0102030405060708u64.to_le_bytes());
    assert_eq!(
        signing::gmac_nonce(&hdr),
        [8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0]
    );
    hdr[16] = 0x01; // response
    assert_eq!(signing::gmac_nonce(&hdr)[8..], [1, 0, 0, 0]);
    hdr[16] = 0x00;
    hdr[12] = 0x0C; // CANCEL request
    assert_eq!(signing::gmac_nonce(&hdr)[8..], [2, 0, 0, 0]);
    // The Command field is both bytes 12 and 13 (little-endian): 0x010C is not CANCEL,
    // whatever the byte before it (Status/ChannelSequence) holds.
    hdr[13] = 0x01;
    assert_eq!(signing::gmac_nonce(&hdr)[8..], [0, 0, 0, 0]);
    hdr[13] = 0x00;
    hdr[11] = 0x01;
    assert_eq!(signing::gmac_nonce(&hdr)[8..], [2, 0, 0, 0]);
}

#[test]
fn gmac_matches_aes_gcm_with_empty_plaintext() {
    // GCM spec (McGrew & Viega) test case 1: K = 0, IV = 0, no AAD, no plaintext.
    let g = signing::Gmac::new(&[0u8; 16]).unwrap();
    let tag = g.mac(&[0u8; 12], &mut core::iter::empty());
    assert_eq!(tag, hex16("58e2fccefa7e3061367f1d57a4e7455a"));

    // Incremental GMAC over arbitrary splits equals aes-gcm with the joined AAD.
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    let key = hex("000102030405060708090a0b0c0d0e0f");
    let gcm = aes_gcm::Aes128Gcm::new_from_slice(&key).unwrap();
    let g = signing::Gmac::new(&key).unwrap();
    let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
    let nonce = [9u8; 12];
    for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 64, 100, 300] {
        let msg = &data[..len];
        let want = gcm
            .encrypt_in_place_detached(aes_gcm::Nonce::from_slice(&nonce), msg, &mut [])
            .unwrap();
        for split in [
            (0, 0),
            (1, 2),
            (5, 16),
            (15, 17),
            (16, 32),
            (len / 3, len / 2),
        ] {
            let a = split.0.min(len);
            let b = split.1.clamp(a, len);
            let parts = [&msg[..a], &msg[a..b], &[][..], &msg[b..]];
            let got = g.mac(&nonce, &mut parts.into_iter());
            assert_eq!(&got[..], &want[..], "len {len} split {a},{b}");
        }
    }
}

#[test]
fn hmac_sha256_signing_reference_and_rfc4231() {
    for_each_provider(hmac_sha256_signing_reference_and_rfc4231_with);
}

fn hmac_sha256_signing_reference_and_rfc4231_with(p: &dyn CryptoProvider) {
    // RFC 4231 test cases 1 and 2 through the incremental helper, split across parts.
    assert_eq!(
        &signing::hmac_sha256_parts(&[0x0b; 20], &[b"Hi ", b"There"])[..],
        &hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")[..]
    );
    assert_eq!(
        &signing::hmac_sha256_parts(b"Jefe", &[b"what do ya want ", b"for nothing?"])[..],
        &hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")[..]
    );
    // SMB 2.x signing: HMAC-SHA256 with the session key, truncated to 16 bytes. Reference
    // computed with Python's hmac over the message with a zeroed signature field.
    let keys = SessionKeys::derive(0x0210, &hex(A_SESSION_KEY), None, None, None).unwrap();
    assert_eq!(keys.signing.as_bytes(), hex(A_SESSION_KEY));
    assert!(keys.encryption.is_none() && keys.cipher.is_none());
    let signer = keys.signer(p).unwrap();
    assert_eq!(signer.algorithm(), SigningAlgorithm::HmacSha256);
    let mut msg = hex(A_SS_RESP2);
    signer.sign(&mut msg).unwrap();
    assert_eq!(&msg[48..64], &hex("69f4b33f052c75b5f93906a96746a04e")[..]);
    signer.verify(&msg).unwrap();
}

#[test]
fn cmac_rfc4493() {
    // RFC 4493 section 4, examples 1-4, fed in uneven pieces.
    let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
    let m = hex(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51
         30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
    );
    let cases = [
        (0, "bb1d6929e95937287fa37d129b756746"),
        (16, "070a16b46b4d4144f79bdd9dd04a287c"),
        (40, "dfa66747de9ae63030ca32611497c827"),
        (64, "51f0bebf7e3b9d92fc49741779363cfe"),
    ];
    for (len, want) in cases {
        let msg = &m[..len];
        let cut = len / 3;
        assert_eq!(
            signing::cmac_parts(&key, &[&msg[..cut], &msg[cut..]]),
            hex16(want),
            "len {len}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Round trips, chunked signing, errors.

fn sample_message(len: usize) -> Vec<u8> {
    let mut m: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
    m[0..4].copy_from_slice(&[0xFE, b'S', b'M', b'B']);
    m[12..14].copy_from_slice(&9u16.to_le_bytes()); // WRITE
    m[16..20].copy_from_slice(&0u32.to_le_bytes());
    m
}

#[test]
fn signing_round_trip_every_algorithm() {
    let key = hex("000102030405060708090a0b0c0d0e0f");
    for alg in [
        SigningAlgorithm::HmacSha256,
        SigningAlgorithm::AesCmac,
        SigningAlgorithm::AesGmac,
    ] {
        let signer = default_provider().signer(alg, &key).unwrap();
        let mut msg = sample_message(64 + 48 + 1000);
        signer.sign(&mut msg).unwrap();
        assert_eq!(msg[16] & 0x08, 0x08, "{alg:?} sets SMB2_FLAGS_SIGNED");
        assert_ne!(&msg[48..64], &[0u8; 16], "{alg:?}");
        signer.verify(&msg).unwrap();
        let snapshot = msg.clone();
        // Tamper anywhere: header, signature, body.
        for i in [0usize, 16, 30, 48, 63, 64, 500, msg.len() - 1] {
            let mut bad = msg.clone();
            bad[i] ^= 0x10;
            assert_eq!(
                signer.verify(&bad),
                Err(CryptoError::BadSignature),
                "{alg:?} {i}"
            );
        }
        assert_eq!(msg, snapshot, "verify does not modify");
        // Truncated message fails too.
        assert_eq!(
            signer.verify(&msg[..msg.len() - 1]),
            Err(CryptoError::BadSignature)
        );

        // sign_parts with the data in separate slices gives the same signature.
        let mut joined = sample_message(64 + 48 + 1000);
        signer.sign(&mut joined).unwrap();
        let mut parts_msg = sample_message(64 + 48 + 1000);
        let (head, data) = parts_msg.split_at_mut(64 + 48);
        let (d1, d2) = data.split_at(333);
        signer.sign_parts(head, &[d1, &[], d2]).unwrap();
        assert_eq!(&head[48..64], &joined[48..64], "{alg:?}");
        signer.verify_parts(head, &[d1, d2]).unwrap();
        signer.verify_parts(head, &[&data[..]]).unwrap();
        let mut d2bad = d2.to_vec();
        d2bad[0] ^= 1;
        assert_eq!(
            signer.verify_parts(head, &[d1, &d2bad]),
            Err(CryptoError::BadSignature)
        );
        // A header-only message (exactly 64 bytes) signs and verifies.
        let mut bare = sample_message(64);
        signer.sign(&mut bare).unwrap();
        signer.verify(&bare).unwrap();
    }
}

#[test]
fn cipher_round_trip_every_cipher_and_wrong_tag() {
    let mut seq = NonceSequence::new([0xA1, 0xB2, 0xC3, 0xD4]);
    for id in [
        CipherId::Aes128Ccm,
        CipherId::Aes128Gcm,
        CipherId::Aes256Ccm,
        CipherId::Aes256Gcm,
    ] {
        assert_eq!(CipherId::from_wire_id(id.wire_id()), Some(id));
        let key: Vec<u8> = (0..id.key_len() as u8).collect();
        let cipher = default_provider().cipher(id, &key).unwrap();
        let plain = sample_message(64 + 4096 + 3);
        let mut th = [0u8; 52];
        th[0..4].copy_from_slice(&[0xFD, b'S', b'M', b'B']);
        th[20..36].copy_from_slice(&seq.next_nonce(id).unwrap());
        th[36..40].copy_from_slice(&(plain.len() as u32).to_le_bytes());
        th[42..44].copy_from_slice(&1u16.to_le_bytes());
        th[44..52].copy_from_slice(&0x1234u64.to_le_bytes());
        let mut buf = plain.clone();
        cipher.seal(&mut th, &mut buf).unwrap();
        assert_ne!(buf, plain, "{id:?}");
        let sealed = buf.clone();
        cipher.open(&th, &mut buf).unwrap();
        assert_eq!(buf, plain, "{id:?}");
        // Wrong tag.
        let mut bad = th;
        bad[4] ^= 1;
        let mut buf = sealed.clone();
        assert_eq!(
            cipher.open(&bad, &mut buf),
            Err(CryptoError::DecryptFailed),
            "{id:?}"
        );
        // Wrong nonce.
        let mut bad = th;
        bad[20] ^= 1;
        let mut buf = sealed.clone();
        assert_eq!(
            cipher.open(&bad, &mut buf),
            Err(CryptoError::DecryptFailed),
            "{id:?}"
        );
        // Bad nonce length and bad key length are errors, not panics.
        let mut buf = plain.clone();
        assert_eq!(
            cipher.encrypt_in_place(&[0u8; 13], &[], &mut buf),
            Err(CryptoError::InvalidNonceLength {
                expected: id.nonce_len(),
                actual: 13
            })
        );
        assert!(matches!(
            Cipher::new(id, &key[..15]),
            Err(CryptoError::InvalidKeyLength { .. })
        ));
        // An empty payload round-trips.
        let mut empty: [u8; 0] = [];
        let nonce = seq.next_nonce(id).unwrap();
        let tag = cipher.encrypt_in_place(&nonce, b"aad", &mut empty).unwrap();
        cipher
            .decrypt_in_place(&nonce, b"aad", &mut empty, &tag)
            .unwrap();
    }
}

#[test]
fn nonce_sequence_unique_and_exhausts() {
    let mut seq = NonceSequence::new([1, 2, 3, 4]);
    let a = seq.next_nonce(CipherId::Aes128Gcm).unwrap();
    let b = seq.next_nonce(CipherId::Aes128Ccm).unwrap();
    assert_eq!(a, [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0]);
    assert_eq!(b, [1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0]);
    let mut seen = alloc::collections::BTreeSet::new();
    for _ in 0..1000 {
        assert!(seen.insert(seq.next_nonce(CipherId::Aes256Gcm).unwrap()));
    }
    let mut end = NonceSequence::starting_at([0; 4], u64::MAX - 1);
    assert!(end.next_nonce(CipherId::Aes128Gcm).is_ok());
    assert_eq!(
        end.next_nonce(CipherId::Aes128Gcm),
        Err(CryptoError::NonceExhausted)
    );
}

#[test]
fn secret_key_redacts_and_pads() {
    let k = SecretKey::from([0x41u8; 16]);
    assert_eq!(alloc::format!("{k:?}"), "[redacted]");
    let keys = SessionKeys::derive(0x0202, &[7u8; 5], None, None, None).unwrap();
    let dbg = alloc::format!("{keys:?}");
    assert!(dbg.contains("[redacted]") && !dbg.contains("7, 7"), "{dbg}");
    // Session.SessionKey: short keys are right-padded to 16, long ones truncated.
    assert_eq!(
        keys.signing.as_bytes(),
        &[7, 7, 7, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(SecretKey::session_key_16(&[9u8; 32]).as_bytes(), &[9u8; 16]);
    assert!(k.ct_eq(&SecretKey::from_slice(&[0x41; 16])));
    assert!(!k.ct_eq(&SecretKey::from_slice(&[0x41; 15])));
}

#[test]
fn derive_rejects_invalid_combinations() {
    let sk = [1u8; 16];
    assert_eq!(
        SessionKeys::derive(0x0311, &sk, None, None, None).unwrap_err(),
        CryptoError::MissingPreauthHash
    );
    assert_eq!(
        SessionKeys::derive(0x0300, &sk, None, Some(CipherId::Aes128Gcm), None).unwrap_err(),
        CryptoError::UnsupportedCipher(CipherId::Aes128Gcm)
    );
    assert_eq!(
        SessionKeys::derive(0x0300, &sk, None, None, Some(SigningAlgorithm::AesGmac)).unwrap_err(),
        CryptoError::UnsupportedSigningAlgorithm(SigningAlgorithm::AesGmac)
    );
    assert_eq!(
        SessionKeys::derive(0x0210, &sk, None, Some(CipherId::Aes128Ccm), None).unwrap_err(),
        CryptoError::UnsupportedCipher(CipherId::Aes128Ccm)
    );
    assert_eq!(
        SessionKeys::derive(0x02FF, &sk, None, None, None).unwrap_err(),
        CryptoError::UnsupportedDialect(0x02FF)
    );
    let gmac = SessionKeys::derive(
        0x0311,
        &sk,
        Some(&[0u8; 64]),
        None,
        Some(SigningAlgorithm::AesGmac),
    )
    .unwrap();
    assert_eq!(gmac.signing_algorithm, SigningAlgorithm::AesGmac);
    assert!(gmac.encryptor(default_provider()).is_none());
    assert_eq!(
        gmac.signer(default_provider()).unwrap().algorithm(),
        SigningAlgorithm::AesGmac
    );
}

#[test]
fn signer_errors() {
    assert!(matches!(
        Signer::new(SigningAlgorithm::AesCmac, &[0u8; 32]),
        Err(CryptoError::InvalidKeyLength { .. })
    ));
    assert!(matches!(
        Signer::new(SigningAlgorithm::AesGmac, &[0u8; 8]),
        Err(CryptoError::InvalidKeyLength { .. })
    ));
    let s = Signer::new(SigningAlgorithm::AesCmac, &[0u8; 16]).unwrap();
    let mut short = [0u8; 63];
    assert_eq!(
        s.sign(&mut short),
        Err(CryptoError::MessageTooShort { len: 63 })
    );
    assert_eq!(
        s.verify(&short),
        Err(CryptoError::MessageTooShort { len: 63 })
    );
    assert_eq!(
        SigningAlgorithm::from_wire_id(2),
        Some(SigningAlgorithm::AesGmac)
    );
    assert_eq!(SigningAlgorithm::from_wire_id(3), None);
    assert_eq!(SigningAlgorithm::AesCmac.wire_id(), 1);
    // [MS-SMB2] 2.2.3.1.7: HMAC-SHA256 0, AES-CMAC 1, AES-GMAC 2, each way.
    for (id, alg) in [
        (0, SigningAlgorithm::HmacSha256),
        (1, SigningAlgorithm::AesCmac),
        (2, SigningAlgorithm::AesGmac),
    ] {
        assert_eq!(SigningAlgorithm::from_wire_id(id), Some(alg));
        assert_eq!(alg.wire_id(), id);
    }
    assert!(alloc::format!("{s:?}").contains("redacted"));
}

// A provider that counts calls into a wrapped backend, to show the plug-in path.
#[derive(Debug, Default)]
struct CountingProvider {
    calls: alloc::sync::Arc<core::sync::atomic::AtomicUsize>,
}

struct CountingAead {
    inner: Cipher,
    calls: alloc::sync::Arc<core::sync::atomic::AtomicUsize>,
}

impl AeadBackend for CountingAead {
    fn encrypt_in_place(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        self.calls
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        self.inner.encrypt_in_place(nonce, aad, buf)
    }
    fn decrypt_in_place(
        &self,
        nonce: &[u8],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), CryptoError> {
        self.calls
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        self.inner.decrypt_in_place(nonce, aad, buf, tag)
    }
}

struct CountingMac {
    inner: signing::Gmac,
    calls: alloc::sync::Arc<core::sync::atomic::AtomicUsize>,
}

impl MacBackend for CountingMac {
    fn mac(
        &self,
        nonce: &[u8; 12],
        parts: &mut dyn Iterator<Item = &[u8]>,
    ) -> Result<[u8; 16], CryptoError> {
        self.calls
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        Ok(self.inner.mac(nonce, parts))
    }
}

impl CryptoProvider for CountingProvider {
    fn signer(&self, alg: SigningAlgorithm, key: &[u8]) -> Result<Signer, CryptoError> {
        if alg != SigningAlgorithm::AesGmac {
            return RustCryptoProvider.signer(alg, key);
        }
        let inner = signing::Gmac::new(key)?;
        Ok(Signer::from_backend(
            alg,
            alloc::boxed::Box::new(CountingMac {
                inner,
                calls: self.calls.clone(),
            }),
        ))
    }
    fn cipher(&self, id: CipherId, key: &[u8]) -> Result<Cipher, CryptoError> {
        let inner = RustCryptoProvider.cipher(id, key)?;
        Ok(Cipher::from_backend(
            id,
            alloc::boxed::Box::new(CountingAead {
                inner,
                calls: self.calls.clone(),
            }),
        ))
    }
}

#[test]
fn custom_provider_plugs_in() {
    let p = CountingProvider::default();
    // The [ENC311] decrypt vector through the custom backend.
    let keys = SessionKeys::derive(
        0x0311,
        &hex(E311_SESSION_KEY),
        Some(&hex64(E311_PREAUTH)),
        Some(CipherId::Aes128Gcm),
        Some(SigningAlgorithm::AesGmac),
    )
    .unwrap();
    let msg = hex(
        "FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000
         00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8
         F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B
         82E03C9E18A050FF0EA1C967",
    );
    let cipher = keys.decryptor(&p).unwrap().unwrap();
    assert_eq!(cipher.id(), CipherId::Aes128Gcm);
    let (th, body) = msg.split_at(52);
    let mut buf = body.to_vec();
    cipher.open(th, &mut buf).unwrap();
    assert_eq!(&buf[..4], &[0xFE, b'S', b'M', b'B']);
    // GMAC through the backend agrees with the built-in signer.
    let custom = keys.signer(&p).unwrap();
    let builtin = keys.signer(default_provider()).unwrap();
    let mut a = sample_message(200);
    let mut b = a.clone();
    custom.sign(&mut a).unwrap();
    builtin.sign(&mut b).unwrap();
    assert_eq!(a, b);
    builtin.verify(&a).unwrap();
    assert_eq!(p.calls.load(core::sync::atomic::Ordering::Relaxed), 2);
}
