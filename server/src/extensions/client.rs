//! Calls from the server to a running extension over its REST API: debug, subscribe and
//! unsubscribe, external events, health. Every call has the client's timeout and bearer auth;
//! [`CallError`] says how one failed and maps to one HTTP status.

use super::*;

/// Why a call to an extension failed (docs/extensions.md#the-api-every-extension-serves, docs/extensions.md#logs-and-debug).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// No extension has this id (404).
    NotFound(String),
    /// The extension is not running (503).
    NotRunning(String),
    /// The extension refused the request with this 4xx status and message (a 400 for
    /// subscriptions, the same status for external events).
    Rejected { status: u16, message: String },
    /// The extension answered with a 5xx, timed out or is unreachable (502).
    Failed(String),
}

impl CallError {
    /// The HTTP status an API answer carries for this error: the one mapping every route and
    /// the external events listener use (`From<CallError> for ApiError`).
    pub fn status(&self) -> u16 {
        match self {
            CallError::NotFound(_) => 404,
            CallError::NotRunning(_) => 503,
            CallError::Rejected { status, .. } if (400..500).contains(status) => *status,
            CallError::Rejected { .. } => 400,
            CallError::Failed(_) => 502,
        }
    }

    /// The message, without the status.
    pub fn message(&self) -> &str {
        match self {
            CallError::NotFound(m)
            | CallError::NotRunning(m)
            | CallError::Rejected { message: m, .. }
            | CallError::Failed(m) => m,
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for CallError {}

impl Extensions {
    /// `GET /api/debug` of a running extension (docs/extensions.md#logs-and-debug).
    pub async fn debug(&self, id: &str) -> Result<String, CallError> {
        // The request carries no user input, so an extension refusing it is its own fault (502).
        let response = self
            .call(id, reqwest::Method::GET, "debug", None::<&()>)
            .await
            .map_err(|e| match e {
                CallError::Rejected { status, message } => CallError::Failed(format!(
                    "extension '{id}' answered {status} to a debug request: {message}"
                )),
                other => other,
            })?;
        let info: ExtensionDebugResponse = response.json().await.map_err(|e| {
            CallError::Failed(format!(
                "extension '{id}' sent an unreadable debug answer: {e}"
            ))
        })?;
        Ok(info.info)
    }

    /// One server→extension call (docs/extensions.md#the-api-every-extension-serves) to a running extension: `path` under `/api/`,
    /// bearer auth, the client's 10 s timeout. A 2xx answers the response; a 4xx is `Rejected`
    /// with the extension's status and message; a 5xx or no answer is `Failed`.
    pub(super) async fn call<B: serde::Serialize + ?Sized>(
        &self,
        id: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response, CallError> {
        let endpoint = self.reachable(id).await?;
        self.call_at(id, &endpoint, method, path, body).await
    }

    /// [`Extensions::call`] to an extension already found running by [`Extensions::reachable`].
    pub(super) async fn call_at<B: serde::Serialize + ?Sized>(
        &self,
        id: &str,
        Endpoint { url, secret }: &Endpoint,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response, CallError> {
        let mut request = self
            .inner
            .http
            .request(method, format!("{url}/api/{path}"))
            .bearer_auth(secret);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            CallError::Failed(format!(
                "extension '{id}' did not answer: {}",
                gofer_core::error_chain(&e)
            ))
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let message = extension_message(&response.text().await.unwrap_or_default());
        if status.is_client_error() {
            Err(CallError::Rejected {
                status: status.as_u16(),
                message,
            })
        } else {
            Err(CallError::Failed(format!(
                "extension '{id}' answered {status}: {message}"
            )))
        }
    }

    /// Forwards a webhook to the extension's `POST /api/external-event` (docs/extensions.md#webhooks-external-events), at the
    /// `endpoint` the listener found before it read the body ([`Extensions::reachable`]: a
    /// disabled or stopped extension is `NotRunning`, 503). Its 4xx is `Rejected` (answered with
    /// the same status); 5xx or silence is `Failed` (502).
    pub(crate) async fn external_event(
        &self,
        id: &str,
        endpoint: &Endpoint,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<(), CallError> {
        let request = gofer_core::api::ExtensionExternalEventRequest {
            headers: gofer_core::api::OrderedMap(headers),
            body,
        };
        self.call_at(
            id,
            endpoint,
            reqwest::Method::POST,
            "external-event",
            Some(&request),
        )
        .await
        .map(drop)
    }

    /// Whether the extension is running (subscriptions are delivered now) or not (they are
    /// delivered at its next start).
    pub async fn is_running(&self, id: &str) -> bool {
        self.reachable(id).await.is_ok()
    }

    /// The URL and bearer secret of a running extension.
    pub(crate) async fn reachable(&self, id: &str) -> Result<Endpoint, CallError> {
        let id2 = id.to_owned();
        let stored = self
            .inner
            .store
            .read(move |s| s.get_extension(&id2))
            .await
            .map_err(|e| match e {
                StoreError::NotFound(m) => CallError::NotFound(m),
                e => CallError::NotRunning(e.to_string()),
            })?;
        let ext = &stored.extension;
        if ext.state != ExtensionState::Running || ext.url.is_empty() {
            return Err(CallError::NotRunning(format!(
                "extension '{id}' is not running (state {})",
                ext.state
            )));
        }
        let secret = self
            .secret_of(id, &stored)
            .ok_or_else(|| CallError::NotRunning(format!("extension '{id}' has no token yet")))?;
        Ok(Endpoint {
            url: ext.url.clone(),
            secret,
        })
    }

    /// The plaintext of the extension's current token, kept by its supervisor.
    pub(super) fn secret_of(&self, id: &str, stored: &StoredExtension) -> Option<String> {
        stored.token_id.as_ref()?;
        self.secrets().get(id).cloned()
    }

    /// `GET /api/health`; the error says what went wrong (a TLS failure included).
    pub(super) async fn health(&self, url: &str) -> Result<(), String> {
        match self
            .inner
            .http
            .get(format!("{url}/api/health"))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("answered {}", r.status())),
            Err(e) => Err(gofer_core::error_chain(&e)),
        }
    }
}

/// The `message` of an extension's error body, or the body itself.
fn extension_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect())
}
