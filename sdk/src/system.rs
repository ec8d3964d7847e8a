//! System and operational endpoints (docs/api.md#roles-global-secrets-system-tokens, docs/api.md#operations).

use crate::client::{decode, describe};
use crate::{Client, Error};
use gofer_core::api::{Health, System, SystemMetadata, UpdateSystemRequest};
use reqwest::Method;

impl Client {
    /// `GET /api/health`. A degraded server answers 503 with the same shape; that is returned as
    /// a [`Health`] whose `status` is not `ok`, not as an error.
    pub async fn health(&self) -> Result<Health, Error> {
        let builder = self.request(Method::GET, &["api", "health"]);
        let what = describe(&builder);
        let response = self.send_any(builder).await?;
        let status = response.status();
        if status.is_success() || status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            decode(response, what).await
        } else {
            Err(Error::Api {
                status: status.as_u16(),
                message: format!("health check answered http {}", status.as_u16()),
                request_id: String::new(),
            })
        }
    }

    /// `GET /metrics`: the Prometheus text (docs/api.md#operations).
    pub async fn metrics(&self) -> Result<String, Error> {
        let builder = self.request(Method::GET, &["metrics"]);
        let what = describe(&builder);
        let response = self.send_any(builder).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(Error::Api {
                status: status.as_u16(),
                message: format!("metrics answered http {}", status.as_u16()),
                request_id: String::new(),
            });
        }
        response.text().await.map_err(|e| Error::Decode {
            request: what,
            message: e.to_string(),
        })
    }

    /// `GET /api/system/metadata`: the server's version.
    pub async fn system_metadata(&self) -> Result<SystemMetadata, Error> {
        self.json(self.request(Method::GET, &["api", "system", "metadata"]))
            .await
    }

    /// `GET /api/system`.
    pub async fn system(&self) -> Result<System, Error> {
        self.json(self.request(Method::GET, &["api", "system"]))
            .await
    }

    /// `GET /api/system/backup` (admin): a tar of the server's data dir, made while it runs
    /// (docs/deploy.md#backup-and-restore), streamed.
    pub async fn backup(&self) -> Result<crate::error::ByteStream, Error> {
        self.byte_stream(self.request(Method::GET, &["api", "system", "backup"]))
            .await
    }

    /// `PATCH /api/system`; returns the new state.
    pub async fn update_system(&self, request: &UpdateSystemRequest) -> Result<System, Error> {
        self.json(
            self.request(Method::PATCH, &["api", "system"])
                .json(request),
        )
        .await
    }
}
