//! JSON Web Token verification: HS256 with a shared secret, RS256 or ES256
//! with a PEM public key or a JWKS file. `iss`, `aud`, `exp` and `sub` are
//! required; `nbf` is checked when present. The algorithm comes from the
//! key, never from the token, so a token cannot pick a weaker one. A header
//! naming critical extensions (`crit`) is refused: none is supported.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context as _, bail};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::caller::Caller;
use crate::config::JwtConfig;

/// Default clock skew tolerated on `exp` and `nbf`.
const DEFAULT_LEEWAY_SECS: u64 = 30;

pub struct JwtVerifier {
    keys: Vec<Key>,
    issuer: String,
    audience: String,
    leeway: u64,
}

struct Key {
    id: Option<String>,
    key: DecodingKey,
    algorithm: Algorithm,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    /// OAuth 2 style: space-separated.
    #[serde(default)]
    scope: Option<String>,
    /// Also seen in the wild: a list (or a space-separated string).
    #[serde(default)]
    scp: Option<ScopeList>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ScopeList {
    Text(String),
    List(Vec<String>),
}

impl JwtVerifier {
    pub fn from_config(config: &JwtConfig) -> anyhow::Result<Self> {
        let keys = if let Some(var) = &config.hs256_secret_env {
            let secret = std::env::var(var).with_context(|| {
                format!("[http.auth.jwt] hs256_secret_env: environment variable {var} is not set")
            })?;
            vec![hmac_key(secret.as_bytes())?]
        } else if let Some(file) = &config.hs256_secret_file {
            let secret = std::fs::read(file)
                .with_context(|| format!("cannot read JWT secret file {}", file.display()))?;
            vec![hmac_key(secret.trim_ascii_end())?]
        } else if let Some(file) = &config.public_key {
            vec![pem_key(file)?]
        } else if let Some(file) = &config.jwks {
            jwks_keys(file)?
        } else {
            bail!(
                "[http.auth.jwt] needs a key: hs256_secret_env, hs256_secret_file, public_key or jwks"
            );
        };
        Ok(Self {
            keys,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config
                .leeway
                .map_or(DEFAULT_LEEWAY_SECS, |leeway| leeway.0.as_secs()),
        })
    }

    /// The caller a token proves, or why it proves nothing (safe to show:
    /// it never contains the token).
    pub fn verify(&self, token: &str) -> Result<Caller, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| describe(e.kind()))?;
        // RFC 7515 §4.1.11: extensions listed in `crit` must be understood,
        // and this server understands none.
        if let Some(critical) = &header.crit {
            // Shown in a header: a few short, printable names only.
            let names: Vec<String> = critical
                .iter()
                .take(4)
                .map(|name| {
                    name.chars()
                        .take(40)
                        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
                        .collect()
                })
                .collect();
            return Err(format!(
                "the token's header marks extensions this server does not support as \
                 critical (crit: {})",
                names.join(", ")
            ));
        }
        let key = match &header.kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|key| key.id.as_deref() == Some(kid.as_str()))
                .or_else(|| self.single_key()),
            None => self.single_key(),
        }
        .ok_or_else(|| "no key matches the token's `kid`".to_owned())?;
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway;
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|e| describe(e.kind()))?;
        let claims = data.claims;
        let mut scopes = BTreeSet::new();
        let words = |text: &str| {
            text.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        scopes.extend(claims.scope.as_deref().map(words).unwrap_or_default());
        match claims.scp {
            Some(ScopeList::Text(text)) => scopes.extend(words(&text)),
            Some(ScopeList::List(list)) => scopes.extend(list),
            None => {}
        }
        Ok(Caller {
            subject: claims.sub,
            scopes,
        })
    }

    fn single_key(&self) -> Option<&Key> {
        match self.keys.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }
}

fn hmac_key(secret: &[u8]) -> anyhow::Result<Key> {
    if secret.len() < 32 {
        bail!(
            "the HS256 secret is {} bytes; use at least 32 random bytes (e.g. `openssl rand -hex 32`)",
            secret.len()
        );
    }
    Ok(Key {
        id: None,
        key: DecodingKey::from_secret(secret),
        algorithm: Algorithm::HS256,
    })
}

fn pem_key(file: &Path) -> anyhow::Result<Key> {
    let pem = std::fs::read(file)
        .with_context(|| format!("cannot read JWT public key {}", file.display()))?;
    if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
        return Ok(Key {
            id: None,
            key,
            algorithm: Algorithm::RS256,
        });
    }
    if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
        return Ok(Key {
            id: None,
            key,
            algorithm: Algorithm::ES256,
        });
    }
    bail!(
        "{} is not a PEM RSA or EC (P-256) public key",
        file.display()
    )
}

fn jwks_keys(file: &Path) -> anyhow::Result<Vec<Key>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read JWKS file {}", file.display()))?;
    let set: JwkSet = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JWKS (JSON Web Key Set)", file.display()))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let algorithm = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                Algorithm::ES256
            }
            _ => {
                tracing::warn!(
                    kid = ?jwk.common.key_id,
                    file = %file.display(),
                    "skipping a JWKS key that is neither RSA nor EC P-256"
                );
                continue;
            }
        };
        let key = DecodingKey::from_jwk(jwk).with_context(|| {
            format!(
                "JWKS key {:?} in {} is invalid",
                jwk.common.key_id,
                file.display()
            )
        })?;
        keys.push(Key {
            id: jwk.common.key_id.clone(),
            key,
            algorithm,
        });
    }
    if keys.is_empty() {
        bail!("{} has no RSA or EC P-256 key", file.display());
    }
    Ok(keys)
}

fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::InvalidAudience => "the token is not meant for this server (aud)".into(),
        ErrorKind::InvalidIssuer => "the token comes from an unexpected issuer (iss)".into(),
        ErrorKind::InvalidSignature => "the token's signature does not verify".into(),
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not match the key".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no `{claim}` claim"),
        _ => "the token is malformed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn verifier() -> JwtVerifier {
        JwtVerifier {
            keys: vec![hmac_key(SECRET.as_bytes()).unwrap()],
            issuer: "https://issuer.example".into(),
            audience: "toolhost".into(),
            leeway: 0,
        }
    }

    fn token(claims: serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    #[test]
    fn valid_tokens_give_subject_and_scopes() {
        let caller = verifier()
            .verify(&token(
                serde_json::json!({
                    "sub": "alice", "iss": "https://issuer.example", "aud": "toolhost",
                    "exp": now() + 60, "scope": "math:call text:call", "scp": ["extra"],
                }),
                SECRET,
            ))
            .unwrap();
        assert_eq!(caller.subject, "alice");
        assert_eq!(
            caller.scopes.iter().map(String::as_str).collect::<Vec<_>>(),
            ["extra", "math:call", "text:call"]
        );
    }

    #[test]
    fn bad_tokens_say_why() {
        let base = serde_json::json!({
            "sub": "alice", "iss": "https://issuer.example", "aud": "toolhost", "exp": now() + 60,
        });
        let with = |key: &str, value: serde_json::Value| {
            let mut claims = base.clone();
            claims[key] = value;
            claims
        };
        let v = verifier();
        assert!(
            v.verify(&token(base.clone(), "another-secret-another-secret-xx"))
                .unwrap_err()
                .contains("signature")
        );
        assert!(
            v.verify(&token(with("exp", (now() - 10).into()), SECRET))
                .unwrap_err()
                .contains("expired")
        );
        assert!(
            v.verify(&token(with("aud", "someone-else".into()), SECRET))
                .unwrap_err()
                .contains("aud")
        );
        assert!(
            v.verify(&token(with("iss", "https://evil.example".into()), SECRET))
                .unwrap_err()
                .contains("iss")
        );
        assert!(
            v.verify(&token(with("nbf", (now() + 600).into()), SECRET))
                .unwrap_err()
                .contains("nbf")
        );
        assert!(v.verify("not-a-jwt").unwrap_err().contains("malformed"));
    }

    fn signed(algorithm: Algorithm, kid: Option<&str>, private_pem: &str) -> String {
        let key = match algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_ec_pem(private_pem.as_bytes()).unwrap(),
        };
        let mut header = Header::new(algorithm);
        header.kid = kid.map(str::to_owned);
        let claims = serde_json::json!({
            "sub": "svc", "iss": "https://issuer.example", "aud": "toolhost", "exp": now() + 60,
        });
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }

    fn keyed(keys: Vec<Key>) -> JwtVerifier {
        JwtVerifier { keys, ..verifier() }
    }

    #[test]
    fn rs256_and_es256_from_pem_and_jwks() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/testdata");
        let rsa_private = include_str!("testdata/rsa-private.pem");
        let ec_private = include_str!("testdata/ec-private.pem");

        let rsa = keyed(vec![pem_key(&data.join("rsa-public.pem")).unwrap()]);
        assert_eq!(rsa.keys[0].algorithm, Algorithm::RS256);
        assert_eq!(
            rsa.verify(&signed(Algorithm::RS256, None, rsa_private))
                .unwrap()
                .subject,
            "svc"
        );
        let ec = keyed(vec![pem_key(&data.join("ec-public.pem")).unwrap()]);
        assert_eq!(ec.keys[0].algorithm, Algorithm::ES256);
        assert!(
            ec.verify(&signed(Algorithm::ES256, None, ec_private))
                .is_ok()
        );
        // A token cannot pick another algorithm than its key's.
        assert!(
            ec.verify(&signed(Algorithm::RS256, None, rsa_private))
                .is_err()
        );

        let set = keyed(jwks_keys(&data.join("jwks.json")).unwrap());
        assert!(
            set.verify(&signed(Algorithm::ES256, Some("ec-1"), ec_private))
                .is_ok()
        );
        assert!(
            set.verify(&signed(Algorithm::RS256, Some("rsa-1"), rsa_private))
                .is_ok()
        );
        assert!(
            set.verify(&signed(Algorithm::RS256, Some("ec-1"), rsa_private))
                .is_err()
        );
        assert!(
            set.verify(&signed(Algorithm::ES256, Some("nope"), ec_private))
                .unwrap_err()
                .contains("kid")
        );
    }

    #[test]
    fn critical_header_extensions_are_refused() {
        let claims = serde_json::json!({
            "sub": "alice", "iss": "https://issuer.example", "aud": "toolhost", "exp": now() + 60,
        });
        let mut header = Header::new(Algorithm::HS256);
        header.crit = Some(vec!["exp-policy".into()]);
        let token = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        let why = verifier().verify(&token).unwrap_err();
        assert!(why.contains("crit: exp-policy"), "{why}");
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(hmac_key(b"short").is_err());
    }
}
