//! Extensions and subscriptions (docs/extensions.md, docs/api.md#extensions and #15, docs/api.md#secrets-and-subscriptions).

use crate::client::paged;
use crate::error::ByteStream;
use crate::{Client, Error};
use gofer_core::api::{
    CreateSubscriptionRequest, Extension, ExtensionDebugResponse, ExtensionResponse,
    ExtensionsResponse, InstallExtensionRequest, Page, Subscription, SubscriptionResponse,
    SubscriptionsResponse, UpdateExtensionRequest, UpdateSubscriptionRequest,
};
use reqwest::Method;

impl Client {
    /// `GET /api/extensions`, by id.
    pub async fn list_extensions(&self, page: Option<Page>) -> Result<Vec<Extension>, Error> {
        let builder = paged(self.request(Method::GET, &["api", "extensions"]), page);
        let response: ExtensionsResponse = self.json(builder).await?;
        Ok(response.extensions)
    }

    /// `GET /api/extensions/{id}`.
    pub async fn get_extension(&self, id: &str) -> Result<Extension, Error> {
        let response: ExtensionResponse = self
            .json(self.request(Method::GET, &["api", "extensions", id]))
            .await?;
        Ok(response.extension)
    }

    /// `POST /api/extensions` (admin): installs and starts it; answers the state it reached
    /// within the server's `extensions.start_timeout`.
    pub async fn install_extension(
        &self,
        request: &InstallExtensionRequest,
    ) -> Result<Extension, Error> {
        let builder = self
            .request(Method::POST, &["api", "extensions"])
            .json(request);
        let response: ExtensionResponse = self.json(builder).await?;
        Ok(response.extension)
    }

    /// `PATCH /api/extensions/{id}` (admin) `{enable}`.
    pub async fn set_extension_enabled(&self, id: &str, enable: bool) -> Result<(), Error> {
        let builder = self
            .request(Method::PATCH, &["api", "extensions", id])
            .json(&UpdateExtensionRequest {
                enable: Some(enable),
            });
        self.empty(builder).await
    }

    /// `DELETE /api/extensions/{id}` (admin).
    pub async fn uninstall_extension(&self, id: &str) -> Result<(), Error> {
        self.empty(self.request(Method::DELETE, &["api", "extensions", id]))
            .await
    }

    /// `GET /api/extensions/{id}/debug` (admin): the extension's own debug text.
    pub async fn extension_debug(&self, id: &str) -> Result<String, Error> {
        let response: ExtensionDebugResponse = self
            .json(self.request(Method::GET, &["api", "extensions", id, "debug"]))
            .await?;
        Ok(response.info)
    }

    /// `GET /api/extensions/{id}/logs?follow=…` over the plain transport: the container's log.
    pub async fn extension_logs(&self, id: &str, follow: bool) -> Result<ByteStream, Error> {
        let builder = self
            .request(Method::GET, &["api", "extensions", id, "logs"])
            .query(&[("follow", follow.to_string())]);
        self.byte_stream(builder).await
    }

    /// `GET /api/extensions/{id}/subscriptions`.
    pub async fn list_extension_subscriptions(
        &self,
        id: &str,
        page: Option<Page>,
    ) -> Result<Vec<Subscription>, Error> {
        let builder = paged(
            self.request(Method::GET, &["api", "extensions", id, "subscriptions"]),
            page,
        );
        let response: SubscriptionsResponse = self.json(builder).await?;
        Ok(response.subscriptions)
    }

    fn subscriptions_path<'a>(ns: &'a str, p: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
        let mut path = vec!["api", "namespaces", ns, "pipelines", p, "subscriptions"];
        path.extend_from_slice(rest);
        path
    }

    /// `GET …/pipelines/{p}/subscriptions`.
    pub async fn list_subscriptions(
        &self,
        ns: &str,
        p: &str,
        page: Option<Page>,
    ) -> Result<Vec<Subscription>, Error> {
        let builder = paged(
            self.request(Method::GET, &Self::subscriptions_path(ns, p, &[])),
            page,
        );
        let response: SubscriptionsResponse = self.json(builder).await?;
        Ok(response.subscriptions)
    }

    /// `GET …/pipelines/{p}/subscriptions/{ext}/{sub}`.
    pub async fn get_subscription(
        &self,
        ns: &str,
        p: &str,
        ext: &str,
        sub: &str,
    ) -> Result<Subscription, Error> {
        let path = Self::subscriptions_path(ns, p, &[ext, sub]);
        let response: SubscriptionResponse = self.json(self.request(Method::GET, &path)).await?;
        Ok(response.subscription)
    }

    /// `POST …/subscriptions/{ext}/{sub}/backfill`: one run per instant the subscription was
    /// scheduled for in the range, or just the instants with `dry_run`
    /// (docs/extensions.md#backfilling-a-schedule).
    pub async fn backfill_subscription(
        &self,
        ns: &str,
        p: &str,
        ext: &str,
        sub: &str,
        request: &gofer_core::api::BackfillRequest,
    ) -> Result<gofer_core::api::BackfillResponse, Error> {
        let path = Self::subscriptions_path(ns, p, &[ext, sub, "backfill"]);
        self.json(self.request(Method::POST, &path).json(request))
            .await
    }

    /// `POST …/pipelines/{p}/subscriptions`: the extension checks the settings first.
    pub async fn create_subscription(
        &self,
        ns: &str,
        p: &str,
        request: &CreateSubscriptionRequest,
    ) -> Result<Subscription, Error> {
        let builder = self
            .request(Method::POST, &Self::subscriptions_path(ns, p, &[]))
            .json(request);
        let response: SubscriptionResponse = self.json(builder).await?;
        Ok(response.subscription)
    }

    /// `PATCH …/subscriptions/{ext}/{sub}` to `active` or `disabled`.
    pub async fn set_subscription_active(
        &self,
        ns: &str,
        p: &str,
        ext: &str,
        sub: &str,
        active: bool,
    ) -> Result<(), Error> {
        let status = if active { "active" } else { "disabled" };
        let builder = self
            .request(Method::PATCH, &Self::subscriptions_path(ns, p, &[ext, sub]))
            .json(&UpdateSubscriptionRequest {
                status: Some(status.to_owned()),
            });
        self.empty(builder).await
    }

    /// `DELETE …/subscriptions/{ext}/{sub}`.
    pub async fn delete_subscription(
        &self,
        ns: &str,
        p: &str,
        ext: &str,
        sub: &str,
    ) -> Result<(), Error> {
        let path = Self::subscriptions_path(ns, p, &[ext, sub]);
        self.empty(self.request(Method::DELETE, &path)).await
    }
}
