"""Tests for RFC 9474 blind RSA signatures (RSABSSA-SHA384-PSS-Randomized)."""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from survey.domain.blindrsa import (
    KEY_BITS,
    PREFIX_BYTES,
    SALT_BYTES,
    BlindSignatureError,
    SigningKey,
    blind,
    blind_sign,
    finalize,
    fingerprint,
    generate_key,
    load_public,
    prepare,
    private_der,
    public_der,
    public_jwk_fields,
    verify,
)

# RFC 9474, Appendix A, "RSABSSA-SHA384-PSS-Randomized Test Vector" (a 4096-bit key), as printed.
RFC_VECTOR_TEXT = """\
p = e1f4d7a34802e27c7392a3cea32a262a34dc3691bd87f3f310dc756734889305
59c120fd0410194fb8a0da55bd0b81227e843fdca6692ae80e5a5d414116d4803fca
7d8c30eaaae57e44a1816ebb5c5b0606c536246c7f11985d731684150b63c9a3ad9e
41b04c0b5b27cb188a692c84696b742a80d3cd00ab891f2457443dadfeba6d6daf10
8602be26d7071803c67105a5426838e6889d77e8474b29244cefaf418e381b312048
b457d73419213063c60ee7b0d81820165864fef93523c9635c22210956e53a8d9632
2493ffc58d845368e2416e078e5bcb5d2fd68ae6acfa54f9627c42e84a9d3f277401
7e32ebca06308a12ecc290c7cd1156dcccfb2311
q = c601a9caea66dc3835827b539db9df6f6f5ae77244692780cd334a006ab353c8
06426b60718c05245650821d39445d3ab591ed10a7339f15d83fe13f6a3dfb20b945
2c6a9b42eaa62a68c970df3cadb2139f804ad8223d56108dfde30ba7d367e9b0a7a8
0c4fdba2fd9dde6661fc73fc2947569d2029f2870fc02d8325acf28c9afa19ecf962
daa7916e21afad09eb62fe9f1cf91b77dc879b7974b490d3ebd2e95426057f35d0a3
c9f45f79ac727ab81a519a8b9285932d9b2e5ccd347e59f3f32ad9ca359115e7da00
8ab7406707bd0e8e185a5ed8758b5ba266e8828f8d863ae133846304a2936ad7bc7c
9803879d2fc4a28e69291d73dbd799f8bc238385
n = aec4d69addc70b990ea66a5e70603b6fee27aafebd08f2d94cbe1250c556e047
a928d635c3f45ee9b66d1bc628a03bac9b7c3f416fe20dabea8f3d7b4bbf7f963be3
35d2328d67e6c13ee4a8f955e05a3283720d3e1f139c38e43e0338ad058a9495c533
77fc35be64d208f89b4aa721bf7f7d3fef837be2a80e0f8adf0bcd1eec5bb040443a
2b2792fdca522a7472aed74f31a1ebe1eebc1f408660a0543dfe2a850f106a617ec6
685573702eaaa21a5640a5dcaf9b74e397fa3af18a2f1b7c03ba91a6336158de420d
63188ee143866ee415735d155b7c2d854d795b7bc236cffd71542df34234221a0413
e142d8c61355cc44d45bda94204974557ac2704cd8b593f035a5724b1adf442e78c5
42cd4414fce6f1298182fb6d8e53cef1adfd2e90e1e4deec52999bdc6c29144e8d52
a125232c8c6d75c706ea3cc06841c7bda33568c63a6c03817f722b50fcf898237d78
8a4400869e44d90a3020923dc646388abcc914315215fcd1bae11b1c751fd52443aa
c8f601087d8d42737c18a3fa11ecd4131ecae017ae0a14acfc4ef85b83c19fed33cf
d1cd629da2c4c09e222b398e18d822f77bb378dea3cb360b605e5aa58b20edc29d00
0a66bd177c682a17e7eb12a63ef7c2e4183e0d898f3d6bf567ba8ae84f84f1d23bf8
b8e261c3729e2fa6d07b832e07cddd1d14f55325c6f924267957121902dc19b3b329
48bdead5
e = 010001
d = 0d43242aefe1fb2c13fbc66e20b678c4336d20b1808c558b6e62ad16a2870771
80b177e1f01b12f9c6cd6c52630257ccef26a45135a990928773f3bd2fc01a313f1d
ac97a51cec71cb1fd7efc7adffdeb05f1fb04812c924ed7f4a8269925dad88bd7dcf
bc4ef01020ebfc60cb3e04c54f981fdbd273e69a8a58b8ceb7c2d83fbcbd6f784d05
2201b88a9848186f2a45c0d2826870733e6fd9aa46983e0a6e82e35ca20a439c5ee7
b502a9062e1066493bdadf8b49eb30d9558ed85abc7afb29b3c9bc644199654a4676
681af4babcea4e6f71fe4565c9c1b85d9985b84ec1abf1a820a9bbebee0df1398aae
2c85ab580a9f13e7743afd3108eb32100b870648fa6bc17e8abac4d3c99246b1f0ea
9f7f93a5dd5458c56d9f3f81ff2216b3c3680a13591673c43194d8e6fc93fc1e37ce
2986bd628ac48088bc723d8fbe293861ca7a9f4a73e9fa63b1b6d0074f5dea2a624c
5249ff3ad811b6255b299d6bc5451ba7477f19c5a0db690c3e6476398b1483d10314
afd38bbaf6e2fbdbcd62c3ca9797a420ca6034ec0a83360a3ee2adf4b9d4ba29731d
131b099a38d6a23cc463db754603211260e99d19affc902c915d7854554aabf608e3
ac52c19b8aa26ae042249b17b2d29669b5c859103ee53ef9bdc73ba3c6b537d5c34b
6d8f034671d7f3a8a6966cc4543df223565343154140fd7391c7e7be03e241f4ecfe
b877a051
msg = 8f3dc6fb8c4a02f4d6352edf0907822c1210a9b32f9bdda4c45a698c80023a
a6b59f8cfec5fdbb36331372ebefedae7d
msg_prefix = 8417e699b219d583fb6216ae0c53ca0e9723442d02f1d1a34295527
e7d929e8b
prepared_msg = 8417e699b219d583fb6216ae0c53ca0e9723442d02f1d1a342955
27e7d929e8b8f3dc6fb8c4a02f4d6352edf0907822c1210a9b32f9bdda4c45a698c8
0023aa6b59f8cfec5fdbb36331372ebefedae7d
salt = 051722b35f458781397c3a671a7d3bd3096503940e4c4f1aaa269d60300ce
449555cd7340100df9d46944c5356825abf
encoded_msg = 2be01c5669eb676cb3f0002eb636427d61568f3f0579da5b998279
a7eb3ab784e5617319376d04809d83e72bef9f0738e7324af3fd1b4f0a35f4f58058
ab329495406bdb5ff31a0274be2d137c735ab0d5a591b3129a6cc46fcecc4b41dbc6
84c965cb30e3eb4864ef18cc8d95b4d6a2002607c821d4d8a7e026ae7bb1f6b4c7c9
3d1b58e9cd87864d6094b0d8f7e2b5f966473703634fb58c774dd4a24376e0eb262a
24b58e3a0b4da4f36ef75651627561ff2ecee9dcbfe1d728cc31a7b46030f7a2815a
e9edf9a2a5c0c6d8dbab1b33b9c3bbda5c083670a3550f7d74c4263aad09f8ed1d43
5fc6295ca4d51fc02c7de9ae28ffd53372c3fa864521b27560daa11ab9daad8d0d74
7661718d2f79c59d0661b09c74863fa32bdcb1c408d3bd24569c57aecae6e06c0c9d
eb7303c5b7b1240960fd2413d61b2e3829af8c09874fdba0fe84ca6aa7e7d533f9b0
ddfe508f562b132ca2d325f1e73f91a8a6b831a2fd9bc0bd5bfa5ea3a1dee16bd9b2
64174b9553a4c0c0d62373353355c05b35824e4bae702f49e5a6bf83eaff65af4990
45bcef1470a0e58ddb21856034af0db96f8636d4a6f1591f34c7224e0c0293e3d3be
2139f2797c5ed8b65473ac2f83c52b87f8cf8754ac2f55f5e41e105df1d079a647fb
1aa591526295667f37db1129752d024eb03bfe506a43665072118423351ef9b86633
76f9fc073141e1e7bc
inv = 80682c48982407b489d53d1261b19ec8627d02b8cda5336750b8cee332ae26
0de57b02d72609c1e0e9f28e2040fc65b6f02d56dbd6aa9af8fde656f70495dfb723
ba01173d4707a12fddac628ca29f3e32340bd8f7ddb557cf819f6b01e445ad96f874
ba235584ee71f6581f62d4f43bf03f910f6510deb85e8ef06c7f09d9794a008be7ff
2529f0ebb69decef646387dc767b74939265fec0223aa6d84d2a8a1cc912d5ca25b4
e144ab8f6ba054b54910176d5737a2cff011da431bd5f2a0d2d66b9e70b39f4b050e
45c0d9c16f02deda9ddf2d00f3e4b01037d7029cd49c2d46a8e1fc2c0c17520af1f4
b5e25ba396afc4cd60c494a4c426448b35b49635b337cfb08e7c22a39b256dd032c0
0adddafb51a627f99a0e1704170ac1f1912e49d9db10ec04c19c58f420212973e0cb
329524223a6aa56c7937c5dffdb5d966b6cd4cbc26f3201dd25c80960a1a111b3294
7bb78973d269fac7f5186530930ed19f68507540eed9e1bab8b00f00d8ca09b3f099
aae46180e04e3584bd7ca054df18a1504b89d1d1675d0966c4ae1407be325cdf623c
f13ff13e4a28b594d59e3eadbadf6136eee7a59d6a444c9eb4e2198e8a974f27a39e
b63af2c9af3870488b8adaad444674f512133ad80b9220e09158521614f1faadfe85
05ef57b7df6813048603f0dd04f4280177a11380fbfc861dbcbd7418d62155248dad
5fdec0991f
blinded_msg = aa3ee045138d874669685ffaef962c7694a9450aa9b4fd6465db9b
3b75a522bb921c4c0fdcdfae9667593255099cff51f5d3fd65e8ffb9d3b3036252a6
b51b6edfb3f40382b2bbf34c0055e4cbcc422850e586d84f190cd449af11dc65545f
5fe26fd89796eb87da4bda0c545f397cddfeeb56f06e28135ec74fd477949e7677f6
f36cfae8fd5c1c5898b03b9c244cf6d1a4fb7ad1cb43aff5e80cb462fac541e72f67
f0a50f1843d1759edfaae92d1a916d3f0efaf4d650db416c3bf8abdb5414a78cebc9
7de676723cb119e77aea489f2bbf530c440ebc5a75dccd3ebf5a412a5f346badd61b
ee588e5917bdcce9dc33c882e39826951b0b8276c6203971947072b726e935816056
ff5cb11a71ca2946478584126bb877acdf87255f26e6cca4e0878801307485d3b7bb
89b289551a8b65a7a6b93db010423d1406e149c87731910306e5e410b41d4da32346
24e74f92845183e323cf7eb244f212a695f8856c675fbc3a021ce649e22c6f0d053a
9d238841cf3afdc2739f99672a419ae13c17f1f8a3bc302ec2e7b98e8c353898b715
0ad8877ec841ea6e4b288064c254fefd0d049c3ad196bf7ffa535e74585d0120ce72
8036ed500942fbd5e6332c298f1ffebe9ff60c1e117b274cf0cb9d70c36ee4891528
996ec1ed0b178e9f3c0c0e6120885f39e8ccaadbb20f3196378c07b1ff22d10049d3
039a7a92fe7efdd95d
blind_sig = 3f4a79eacd4445fca628a310d41e12fcd813c4d43aa4ef2b81226953
248d6d00adfee6b79cb88bfa1f99270369fd063c023e5ed546719b0b2d143dd1bca4
6b0e0e615fe5c63d95c5a6b873b8b50bc52487354e69c3dfbf416e7aca18d5842c89
b676efdd38087008fa5a810161fcdec26f20ccf2f1e6ab0f9d2bb93e051cb9e86a9b
28c5bb62fd5f5391379f887c0f706a08bcc3b9e7506aaf02485d688198f5e22eefdf
837b2dd919320b17482c5cc54271b4ccb41d267629b3f844fd63750b01f5276c79e3
3718bb561a152acb2eb36d8be75bce05c9d1b94eb609106f38226fb2e0f5cd5c5c39
c59dda166862de498b8d92f6bcb41af433d65a2ac23da87f39764cb64e79e74a8f4c
e4dd567480d967cefac46b6e9c06434c3715635834357edd2ce6f105eea854ac126c
cfa3de2aac5607565a4e5efaac5eed491c335f6fc97e6eb7e9cea3e12de38dfb3152
20c0a3f84536abb2fdd722813e083feda010391ac3d8fd1cd9212b5d94e634e69ebc
c800c4d5c4c1091c64afc37acf563c7fc0a6e4c082bc55544f50a7971f3fb97d5853
d72c3af34ffd5ce123998be5360d1059820c66a81e1ee6d9c1803b5b62af6bc87752
6df255b6d1d835d8c840bebbcd6cc0ee910f17da37caf8488afbc08397a1941fcc79
e76a5888a95b3d5405e13f737bea5c78d716a48eb9dc0aec8de39c4b45c6914ad4a8
185969f70b1adf46
sig = 191e941c57510e22d29afad257de5ca436d2316221fe870c7cb75205a6c071
c2735aed0bc24c37f3d5bd960ab97a829a508f966bbaed7a82645e65eadaf24ab5e6
d9421392c5b15b7f9b640d34fec512846a3100b80f75ef51064602118c1a77d28d93
8f6efc22041d60159a518d3de7c4d840c9c68109672d743d299d8d2577ef60c19ab4
63c716b3fa75fa56f5735349d414a44df12bf0dd44aa3e10822a651ed4cb0eb6f47c
9bd0ef14a034a7ac2451e30434d513eb22e68b7587a8de9b4e63a059d05c8b22c7c5
1e2cfee2d8bef511412e93c859a13726d87c57d1bc4c2e68ab121562f839c3a3d233
e87ed63c69b7e57525367753fbebcc2a9805a2802659f5888b2c69115bf865559f10
d906c09d048a0d71bfee4b33857393ec2b69e451433496d02c9a7910abb954317720
bbde9e69108eafc3e90bad3d5ca4066d7b1e49013fa04e948104a1dd82b12509ecb1
46e948c54bd8bfb5e6d18127cd1f7a93c3cf9f2d869d5a78878c03fe808a0d799e91
0be6f26d18db61c485b303631d3568368fc41986d08a95ea6ac0592240c19d7b2241
6b9c82ae6241e211dd5610d0baaa9823158f9c32b66318f5529491b7eeadcaa71898
a63bac9d95f4aa548d5e97568d744fc429104e32edd9c87519892a198a30d333d427
739ffb9607b092e910ae37771abf2adb9f63bc058bf58062ad456cb934679795bbdf
cdfad5e0f2
"""


def parse_vector(text: str) -> dict[str, bytes]:
    """Return the vector's fields as bytes: ``name = hex`` lines with hex continuation lines."""
    fields: dict[str, str] = {}
    name = ""
    for line in text.splitlines():
        if " = " in line:
            name, value = line.split(" = ")
            fields[name] = value
        else:
            fields[name] += line
    return {key: bytes.fromhex(value) for key, value in fields.items()}


VECTOR = parse_vector(RFC_VECTOR_TEXT)
DER, SPKI = Encoding.DER, PublicFormat.SubjectPublicKeyInfo
MESSAGE = b"ballot for round 7"


def vector_key() -> rsa.RSAPrivateKey:
    """Return the vector's private key, built from its p, q, d and e."""
    p, q, d = (int.from_bytes(VECTOR[name], "big") for name in ("p", "q", "d"))
    e = int.from_bytes(VECTOR["e"], "big")
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key()


def vector_r() -> int:
    """Return the blinding factor behind the vector's ``inv``: r = inv^-1 mod n."""
    n = int.from_bytes(VECTOR["n"], "big")
    return pow(int.from_bytes(VECTOR["inv"], "big"), -1, n)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    """Return a fresh key for this module."""
    return generate_key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    """Return a second key, as held for another label."""
    return generate_key()


def run_protocol(key: rsa.RSAPrivateKey, msg: bytes) -> tuple[bytes, bytes]:
    """Run prepare, blind, blind_sign and finalize; return ``(msg_prime, sig)``."""
    public = key.public_key()
    msg_prime = prepare(msg)
    blinded, inv = blind(public, msg_prime)
    blind_sig = blind_sign(SigningKey.from_private(key), blinded)
    return msg_prime, finalize(public, msg_prime, blind_sig, inv)


# --- the RFC 9474 test vector -------------------------------------------------------------------


def test_vector_key_is_consistent() -> None:
    numbers = vector_key().private_numbers().public_numbers
    assert numbers.n.to_bytes(512, "big") == VECTOR["n"]
    assert numbers.e == 65537


def test_rfc_vector_end_to_end() -> None:
    private = vector_key()
    public = private.public_key()
    n, e = public.public_numbers().n, public.public_numbers().e

    msg_prime = prepare(VECTOR["msg"], VECTOR["msg_prefix"])
    assert msg_prime == VECTOR["prepared_msg"]

    blinded, inv = blind(public, msg_prime, salt=VECTOR["salt"], r=vector_r())
    assert inv == VECTOR["inv"]
    assert blinded == VECTOR["blinded_msg"]
    # blinded = encoded * r^e, so unblinding with inv^e gives back the EMSA-PSS encoding.
    encoded = int.from_bytes(blinded, "big") * pow(int.from_bytes(inv, "big"), e, n) % n
    assert encoded.to_bytes(512, "big") == VECTOR["encoded_msg"]

    blind_sig = blind_sign(SigningKey.from_private(private), blinded)
    assert blind_sig == VECTOR["blind_sig"]
    sig = finalize(public, msg_prime, blind_sig, inv)
    assert sig == VECTOR["sig"]
    assert verify(public, msg_prime, sig)
    assert not verify(public, VECTOR["msg"], sig)  # the prefix is part of what is signed


def test_vector_key_public_jwk_fields() -> None:
    fields = public_jwk_fields(vector_key().public_key())
    assert fields["e"] == "AQAB"
    assert "=" not in fields["n"]
    padded = fields["n"] + "=" * (-len(fields["n"]) % 4)
    assert base64.urlsafe_b64decode(padded) == VECTOR["n"]


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("msg", [b"", b"x", MESSAGE, bytes(range(256)) * 8])
def test_round_trip(key: rsa.RSAPrivateKey, msg: bytes) -> None:
    msg_prime, sig = run_protocol(key, msg)
    assert msg_prime[PREFIX_BYTES:] == msg
    assert len(sig) == KEY_BITS // 8
    assert verify(key.public_key(), msg_prime, sig)


def test_same_message_twice_gives_unrelated_values(key: rsa.RSAPrivateKey) -> None:
    public = key.public_key()
    first, second = prepare(MESSAGE), prepare(MESSAGE)
    assert first != second
    assert blind(public, first)[0] != blind(public, first)[0]
    assert run_protocol(key, MESSAGE)[1] != run_protocol(key, MESSAGE)[1]


def test_signature_is_plain_rsassa_pss(key: rsa.RSAPrivateKey) -> None:
    msg_prime, sig = run_protocol(key, MESSAGE)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=SALT_BYTES)
    key.public_key().verify(sig, msg_prime, pss, hashes.SHA384())  # raises if invalid


# --- refusals -----------------------------------------------------------------------------------


def flip(data: bytes, index: int = -1) -> bytes:
    """Return ``data`` with the lowest bit of byte ``index`` flipped."""
    out = bytearray(data)
    out[index] ^= 1
    return bytes(out)


@pytest.mark.parametrize(
    "case", ["wrong key", "tampered message", "tampered blind_sig", "tampered inv"]
)
def test_finalize_refuses(key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, case: str) -> None:
    public = key.public_key()
    msg_prime = prepare(MESSAGE)
    blinded, inv = blind(public, msg_prime)
    if case == "wrong key":
        # Another key's signature is refused; which check refuses it depends on which modulus
        # is larger (a value can be out of the other key's range before any signature check).
        with pytest.raises(BlindSignatureError, match="invalid signature|out of range"):
            finalize(
                public, msg_prime, blind_sign(SigningKey.from_private(other_key), blinded), inv
            )
        return
    blind_sig = blind_sign(SigningKey.from_private(key), blinded)
    if case == "tampered message":
        msg_prime = flip(msg_prime)
    elif case == "tampered blind_sig":
        blind_sig = flip(blind_sig)
    elif case == "tampered inv":
        inv = flip(inv)
    with pytest.raises(BlindSignatureError, match="invalid signature"):
        finalize(public, msg_prime, blind_sig, inv)


@pytest.mark.parametrize(
    "case", ["other label key", "tampered message", "tampered signature", "prefix dropped"]
)
def test_verify_refuses(key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, case: str) -> None:
    msg_prime, sig = run_protocol(key, MESSAGE)
    public = other_key.public_key() if case == "other label key" else key.public_key()
    if case == "tampered message":
        msg_prime = flip(msg_prime, 0)
    elif case == "tampered signature":
        sig = flip(sig, 100)
    elif case == "prefix dropped":
        msg_prime = msg_prime[PREFIX_BYTES:]
    assert not verify(public, msg_prime, sig)


@pytest.mark.parametrize("size", [0, 255, 257])
def test_verify_refuses_wrong_length(key: rsa.RSAPrivateKey, size: int) -> None:
    assert not verify(key.public_key(), MESSAGE, bytes(size))


@pytest.mark.parametrize(
    ("value", "size", "match"),
    [
        ("n", 256, "out of range"),
        ("n+1", 256, "out of range"),
        ("max", 256, "out of range"),
        ("zero", 256, "out of range"),
        ("one", 255, "must be 256 bytes"),
        ("one", 257, "must be 256 bytes"),
        ("zero", 0, "must be 256 bytes"),
    ],
)
def test_blind_sign_refuses(key: rsa.RSAPrivateKey, value: str, size: int, match: str) -> None:
    signing = SigningKey.from_private(key)
    m = {"n": signing.n, "n+1": signing.n + 1, "max": 2 ** (8 * size) - 1, "zero": 0, "one": 1}
    blinded = m[value].to_bytes(size, "big")
    with pytest.raises(BlindSignatureError, match=match):
        blind_sign(signing, blinded)


def test_blind_sign_catches_a_faulty_key(key: rsa.RSAPrivateKey) -> None:
    signing = SigningKey.from_private(key)
    faulty = dataclasses.replace(signing, dp=signing.dp ^ 2)  # as if a bit flipped in memory
    blinded, _ = blind(key.public_key(), prepare(MESSAGE))
    with pytest.raises(BlindSignatureError, match="signing failure"):
        blind_sign(faulty, blinded)


@pytest.mark.parametrize("r", ["zero", "n", "p", "q", "negative"])
def test_blind_refuses_r_not_invertible(r: str) -> None:
    private = vector_key()
    numbers = private.private_numbers()
    values = {
        "zero": 0,
        "n": numbers.public_numbers.n,
        "p": numbers.p,
        "q": numbers.q,
        "negative": -1,
    }
    with pytest.raises(BlindSignatureError, match="blinding error"):
        blind(private.public_key(), VECTOR["prepared_msg"], r=values[r])


@pytest.mark.parametrize("size", [0, SALT_BYTES - 1, SALT_BYTES + 1])
def test_blind_refuses_wrong_salt_length(key: rsa.RSAPrivateKey, size: int) -> None:
    with pytest.raises(BlindSignatureError, match="salt"):
        blind(key.public_key(), prepare(MESSAGE), salt=bytes(size))


@pytest.mark.parametrize(("blind_sig_size", "inv_size"), [(255, 256), (256, 255), (257, 257)])
def test_finalize_refuses_wrong_lengths(
    key: rsa.RSAPrivateKey, blind_sig_size: int, inv_size: int
) -> None:
    with pytest.raises(BlindSignatureError, match="unexpected input size"):
        finalize(key.public_key(), MESSAGE, bytes(blind_sig_size), bytes(inv_size))


@pytest.mark.parametrize("size", [0, PREFIX_BYTES - 1, PREFIX_BYTES + 1])
def test_prepare_refuses_wrong_prefix_length(size: int) -> None:
    with pytest.raises(BlindSignatureError, match="prefix"):
        prepare(MESSAGE, bytes(size))


def test_prepare_random_prefix() -> None:
    msg_prime = prepare(MESSAGE)
    assert len(msg_prime) == PREFIX_BYTES + len(MESSAGE)
    assert msg_prime.endswith(MESSAGE)


def test_generate_key_refuses_short_keys() -> None:
    with pytest.raises(BlindSignatureError, match="at least"):
        generate_key(1024)


# --- serialisation ------------------------------------------------------------------------------


def test_signing_key_from_der_round_trip(key: rsa.RSAPrivateKey) -> None:
    signing = SigningKey.from_der(private_der(key))
    assert signing == SigningKey.from_private(key)
    assert signing.qinv * signing.q % signing.p == 1
    assert signing.n == signing.p * signing.q


def test_public_der_round_trip(key: rsa.RSAPrivateKey) -> None:
    der = public_der(key)
    assert der == public_der(key.public_key())
    loaded = load_public(der)
    assert loaded.public_numbers() == key.public_key().public_numbers()


def short_key_der() -> bytes:
    """Return the SPKI DER of a 1024-bit key, made without generate_key's check."""
    return public_der(rsa.generate_private_key(public_exponent=65537, key_size=1024))


def ec_key() -> ec.EllipticCurvePrivateKey:
    """Return a P-256 key, to stand for a key of the wrong type."""
    return ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize(
    ("make_der", "match"),
    [
        (lambda: b"", "not a SubjectPublicKeyInfo"),
        (lambda: b"\x30\x03\x02\x01\x01", "not a SubjectPublicKeyInfo"),
        (lambda: ec_key().public_key().public_bytes(DER, SPKI), "not an RSA public key"),
        (short_key_der, "at least 2048 bits"),
    ],
)
def test_load_public_refuses(make_der: Callable[[], bytes], match: str) -> None:
    with pytest.raises(BlindSignatureError, match=match):
        load_public(make_der())


@pytest.mark.parametrize(
    ("make_der", "match"),
    [
        (lambda: b"", "not an unencrypted PKCS#8"),
        (lambda: public_der(generate_key()), "not an unencrypted PKCS#8"),
        (
            lambda: ec_key().private_bytes(DER, PrivateFormat.PKCS8, NoEncryption()),
            "not an RSA private key",
        ),
    ],
)
def test_signing_key_from_der_refuses(make_der: Callable[[], bytes], match: str) -> None:
    with pytest.raises(BlindSignatureError, match=match):
        SigningKey.from_der(make_der())


FINGERPRINT = re.compile(r"[0-9a-f]{4}( [0-9a-f]{4}){7}")


def test_fingerprint_format(key: rsa.RSAPrivateKey) -> None:
    assert FINGERPRINT.fullmatch(fingerprint(public_der(key)))
    assert fingerprint(b"") == "e3b0 c442 98fc 1c14 9afb f4c8 996f b924"  # SHA-256 of nothing
    assert fingerprint(public_der(key)) != fingerprint(public_der(generate_key()))
