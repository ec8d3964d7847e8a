//! The GitHub App side of the github extension: it signs the app's JSON Web Token (RS256 with
//! `APP_KEY`), trades it for an installation token, and creates and completes check runs
//! (docs/extensions.md "github" describes the settings and what an operator sees).
//!
//! This is the only HTTPS client in Gofer: rustls with ring, trusting the CA certificates of the
//! system (the extension's image carries the host's CA bundle; `SSL_CERT_FILE` overrides).
//! `APP_API_URL` may also be plain `http://` (a GitHub stand-in in tests).

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Method;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use jiff::Timestamp;
use ring::signature::RsaKeyPair;
use std::time::Duration;

type Https = HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// How long one call to GitHub may take, answer included.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// An installation token is renewed this long before GitHub says it expires.
const TOKEN_MARGIN_SECONDS: i64 = 300;

/// A GitHub App installation, from `APP_ID`, `APP_INSTALLATION`, `APP_KEY` and `APP_API_URL`.
pub struct App {
    id: u64,
    installation: u64,
    key: RsaKeyPair,
    api: String,
    http: Https,
    /// The installation token and when it stops being used (Unix seconds).
    token: tokio::sync::Mutex<Option<(String, i64)>>,
}

/// A check run's conclusion as GitHub names it.
pub fn conclusion(status: gofer_core::enums::RunStatus) -> &'static str {
    use gofer_core::enums::RunStatus;
    match status {
        RunStatus::Successful => "success",
        RunStatus::Failed => "failure",
        RunStatus::Cancelled => "cancelled",
        RunStatus::Unknown => "neutral",
    }
}

impl App {
    /// Reads the app settings. `Ok(None)` when none of `APP_ID`, `APP_INSTALLATION`, `APP_KEY` is
    /// set (check runs are then unavailable); an error naming the setting when they are set only
    /// in part or do not parse, so a mistake shows at install time rather than at the first pull
    /// request.
    pub fn from_settings() -> Result<Option<App>, String> {
        let (id, installation, key) = (
            super::super::setting("APP_ID"),
            super::super::setting("APP_INSTALLATION"),
            super::super::setting("APP_KEY"),
        );
        if id.is_none() && installation.is_none() && key.is_none() {
            return Ok(None);
        }
        let missing: Vec<&str> = [
            ("APP_ID", id.is_none()),
            ("APP_INSTALLATION", installation.is_none()),
            ("APP_KEY", key.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, absent)| absent.then_some(name))
        .collect();
        if !missing.is_empty() {
            return Err(format!(
                "{}: missing; check runs need APP_ID, APP_INSTALLATION and APP_KEY together \
                 (or none of them)",
                missing.join(", ")
            ));
        }
        let number = |name: &str, value: String| {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("{name}: '{value}' is not a number"))
        };
        let id = number("APP_ID", id.unwrap_or_default())?;
        let installation = number("APP_INSTALLATION", installation.unwrap_or_default())?;
        let key = parse_key(&key.unwrap_or_default()).map_err(|e| format!("APP_KEY: {e}"))?;
        let api = super::super::setting("APP_API_URL")
            .unwrap_or_else(|| "https://api.github.com".to_owned())
            .trim_end_matches('/')
            .to_owned();
        if !(api.starts_with("https://") || api.starts_with("http://")) {
            return Err(format!(
                "APP_API_URL: '{api}' is not an http(s) URL (the default is https://api.github.com)"
            ));
        }
        Ok(Some(App {
            id,
            installation,
            key,
            http: https_client(api.starts_with("https://"))?,
            api,
            token: tokio::sync::Mutex::new(None),
        }))
    }

    /// The app's JSON Web Token: RS256, issued a minute ago (GitHub's advice against clock
    /// drift), valid for nine minutes.
    fn jwt(&self) -> Result<String, String> {
        let now = Timestamp::now().as_second();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = b64.encode(
            serde_json::json!({"iat": now - 60, "exp": now + 540, "iss": self.id.to_string()})
                .to_string(),
        );
        let message = format!("{header}.{claims}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "APP_KEY: could not sign the app's token".to_owned())?;
        Ok(format!("{message}.{}", b64.encode(signature)))
    }

    /// An installation token, from the cache while it has more than five minutes left.
    async fn installation_token(&self) -> Result<String, String> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Timestamp::now().as_second() < *until
        {
            return Ok(token.clone());
        }
        let answer = self
            .call(
                Method::POST,
                &format!("/app/installations/{}/access_tokens", self.installation),
                &format!("Bearer {}", self.jwt()?),
                None,
            )
            .await?;
        let token = answer["token"]
            .as_str()
            .ok_or("GitHub's installation token answer has no token")?
            .to_owned();
        let expires = answer["expires_at"]
            .as_str()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .map_or(Timestamp::now().as_second() + 3600, |t| t.as_second());
        *cached = Some((token.clone(), expires - TOKEN_MARGIN_SECONDS));
        Ok(token)
    }

    /// Creates an `in_progress` check run on `head_sha`; returns its id.
    pub async fn create_check(
        &self,
        repository: &str,
        name: &str,
        head_sha: &str,
        details_url: &str,
        external_id: &str,
    ) -> Result<u64, String> {
        let token = self.installation_token().await?;
        let answer = self
            .call(
                Method::POST,
                &format!("/repos/{repository}/check-runs"),
                &format!("Bearer {token}"),
                Some(serde_json::json!({
                    "name": name,
                    "head_sha": head_sha,
                    "status": "in_progress",
                    "started_at": Timestamp::now().round(jiff::Unit::Second).unwrap_or(Timestamp::now()).to_string(),
                    "details_url": details_url,
                    "external_id": external_id,
                })),
            )
            .await?;
        answer["id"]
            .as_u64()
            .ok_or_else(|| "GitHub's check run answer has no id".to_owned())
    }

    /// Completes a check run with `conclusion`.
    pub async fn complete_check(
        &self,
        repository: &str,
        check_id: u64,
        conclusion: &str,
        details_url: &str,
    ) -> Result<(), String> {
        let token = self.installation_token().await?;
        self.call(
            Method::PATCH,
            &format!("/repos/{repository}/check-runs/{check_id}"),
            &format!("Bearer {token}"),
            Some(serde_json::json!({
                "status": "completed",
                "conclusion": conclusion,
                "completed_at": Timestamp::now().round(jiff::Unit::Second).unwrap_or(Timestamp::now()).to_string(),
                "details_url": details_url,
            })),
        )
        .await
        .map(drop)
    }

    /// One call to the GitHub API; a non-2xx answer is an error quoting GitHub's message.
    async fn call(
        &self,
        method: Method,
        path: &str,
        authorization: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        let url = format!("{}{path}", self.api);
        let request = hyper::Request::builder()
            .method(method.clone())
            .uri(&url)
            .header("authorization", authorization)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header("user-agent", "gofer-extension-github")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| gofer_core::error_chain(&e))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| gofer_core::error_chain(&e))?
                .to_bytes();
            Ok::<_, String>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("{method} {url}: no answer within 30 s"))?
            .map_err(|e| format!("{method} {url}: {e}"))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| text.chars().take(300).collect());
            return Err(format!(
                "{method} {url}: GitHub answered {status}: {message}"
            ));
        }
        Ok(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }
}

/// The HTTP(S) client. An `https` API needs the system's CA certificates; a plain `http` one
/// does not, so a missing bundle is only an error for the former.
fn https_client(tls: bool) -> Result<Https, String> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = match builder.with_native_roots() {
        Ok(builder) => builder,
        Err(e) if tls => {
            return Err(format!(
                "APP_API_URL: no CA certificates to check GitHub's with ({e}); set SSL_CERT_FILE \
                 to a CA bundle"
            ));
        }
        Err(_) => hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        ),
    };
    let connector = builder.https_or_http().enable_http1().build();
    Ok(HyperClient::builder(hyper_util::rt::TokioExecutor::new()).build(connector))
}

/// The app's private key: a PEM (`RSA PRIVATE KEY` as GitHub issues it, or `PRIVATE KEY`),
/// given as is or base64-encoded.
fn parse_key(value: &str) -> Result<RsaKeyPair, String> {
    let value = value.trim();
    let pem = if value.starts_with("-----BEGIN") {
        value.to_owned()
    } else {
        let compact: String = value.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| format!("neither a PEM nor base64 of one ({e})"))?;
        String::from_utf8(bytes).map_err(|_| "the base64 does not decode to a PEM".to_owned())?
    };
    let label = pem
        .lines()
        .find_map(|l| l.trim().strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or("no -----BEGIN ...----- line; give the .pem GitHub generated for the app")?
        .to_owned();
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("the PEM's body is not base64 ({e})"))?;
    match label.as_str() {
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der).map_err(|e| format!("not an RSA key: {e}")),
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der).map_err(|e| format!("not an RSA key: {e}")),
        other => Err(format!(
            "a PEM of '{other}'; GitHub App keys are 'RSA PRIVATE KEY'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../../tests/fixtures/github-app-test-key.pem");

    #[test]
    fn keys_parse_as_pem_or_base64_and_sign_verifiable_tokens() {
        let plain = parse_key(KEY).expect("a PEM");
        let encoded = base64::engine::general_purpose::STANDARD.encode(KEY);
        parse_key(&encoded).expect("base64 of a PEM");
        assert!(
            parse_key("not a key")
                .unwrap_err()
                .contains("neither a PEM")
        );
        let bad = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----";
        assert!(parse_key(bad).unwrap_err().contains("not an RSA key"));

        let app = App {
            id: 42,
            installation: 7,
            key: plain,
            api: "http://127.0.0.1:9".to_owned(),
            http: https_client(false).unwrap(),
            token: tokio::sync::Mutex::new(None),
        };
        let jwt = app.jwt().unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims: serde_json::Value =
            serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "42");
        let public = app.key.public().as_ref().to_vec();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            public,
        )
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &b64.decode(parts[2]).unwrap(),
        )
        .expect("the signature verifies with the app's public key");
    }
}
