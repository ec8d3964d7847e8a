//! Objects and secrets (docs/objects-and-secrets.md; docs/api.md#objects, docs/api.md#runs-and-task-executions, docs/api.md#secrets-and-subscriptions, docs/api.md#roles-global-secrets-system-tokens). Object bytes
//! are streamed both ways, never collected by the client.

use crate::client::paged;
use crate::error::ByteStream;
use crate::{Client, Error};
use bytes::Bytes;
use futures_util::stream::Stream;
use gofer_core::api::{
    GetSecretResponse, Object, ObjectResponse, ObjectsResponse, Page, PutGlobalSecretRequest,
    PutPipelineSecretRequest, Secret, SecretResponse, SecretsResponse,
};
use reqwest::Method;

/// Where an object lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectScope<'a> {
    /// `(namespace, pipeline)`.
    Pipeline(&'a str, &'a str),
    /// `(namespace, pipeline, run id)`.
    Run(&'a str, &'a str, u64),
    /// An extension's own objects (`/api/extensions/{id}/objects`).
    Extension(&'a str),
}

/// Where a secret lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretScope<'a> {
    /// `(namespace, pipeline)`.
    Pipeline(&'a str, &'a str),
    Global,
}

impl ObjectScope<'_> {
    fn path(&self, key: Option<&str>) -> Vec<String> {
        let mut path: Vec<String> = match self {
            ObjectScope::Extension(id) => ["api", "extensions", id, "objects"]
                .map(String::from)
                .to_vec(),
            ObjectScope::Pipeline(ns, p) => ["api", "namespaces", ns, "pipelines", p, "objects"]
                .map(String::from)
                .to_vec(),
            ObjectScope::Run(ns, p, run) => {
                let run = run.to_string();
                [
                    "api",
                    "namespaces",
                    ns,
                    "pipelines",
                    p,
                    "runs",
                    run.as_str(),
                    "objects",
                ]
                .map(String::from)
                .to_vec()
            }
        };
        path.extend(key.map(String::from));
        path
    }
}

impl SecretScope<'_> {
    fn path(&self, key: Option<&str>) -> Vec<String> {
        let mut path: Vec<String> = match self {
            SecretScope::Pipeline(ns, p) => ["api", "namespaces", ns, "pipelines", p, "secrets"]
                .map(String::from)
                .to_vec(),
            SecretScope::Global => ["api", "secrets", "global"].map(String::from).to_vec(),
        };
        path.extend(key.map(String::from));
        path
    }
}

fn refs(path: &[String]) -> Vec<&str> {
    path.iter().map(String::as_str).collect()
}

impl Client {
    /// `GET …/objects`: metadata, oldest first.
    pub async fn list_objects(
        &self,
        scope: ObjectScope<'_>,
        page: Option<Page>,
    ) -> Result<Vec<Object>, Error> {
        let path = scope.path(None);
        let builder = paged(self.request(Method::GET, &refs(&path)), page);
        let response: ObjectsResponse = self.json(builder).await?;
        Ok(response.objects)
    }

    /// `GET …/objects/{key}`: the object's bytes as a stream of chunks.
    pub async fn get_object(&self, scope: ObjectScope<'_>, key: &str) -> Result<ByteStream, Error> {
        let path = scope.path(Some(key));
        let builder = self.request(Method::GET, &refs(&path));
        self.byte_stream(builder).await
    }

    /// `POST …/objects/{key}?force=`: uploads `body` as it is produced (streamed, never collected).
    pub async fn put_object<S>(
        &self,
        scope: ObjectScope<'_>,
        key: &str,
        body: S,
        force: bool,
    ) -> Result<Object, Error>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let path = scope.path(Some(key));
        let builder = self
            .request(Method::POST, &refs(&path))
            .query(&[("force", force.to_string())])
            .header("content-type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(body));
        let response: ObjectResponse = self.json(builder).await?;
        Ok(response.object)
    }

    /// `DELETE …/objects/{key}`.
    pub async fn delete_object(&self, scope: ObjectScope<'_>, key: &str) -> Result<(), Error> {
        let path = scope.path(Some(key));
        self.empty(self.request(Method::DELETE, &refs(&path))).await
    }

    /// `GET …/secrets` or `/api/secrets/global`: metadata only.
    pub async fn list_secrets(
        &self,
        scope: SecretScope<'_>,
        page: Option<Page>,
    ) -> Result<Vec<Secret>, Error> {
        let path = scope.path(None);
        let builder = paged(self.request(Method::GET, &refs(&path)), page);
        let response: SecretsResponse = self.json(builder).await?;
        Ok(response.secrets)
    }

    /// `GET …/secrets/{key}?include_secret=`: metadata, and the value only when asked for.
    pub async fn get_secret(
        &self,
        scope: SecretScope<'_>,
        key: &str,
        include_secret: bool,
    ) -> Result<GetSecretResponse, Error> {
        let path = scope.path(Some(key));
        let builder = self
            .request(Method::GET, &refs(&path))
            .query(&[("include_secret", include_secret.to_string())]);
        self.json(builder).await
    }

    /// `POST …/pipelines/{p}/secrets`.
    pub async fn put_pipeline_secret(
        &self,
        ns: &str,
        p: &str,
        request: &PutPipelineSecretRequest,
    ) -> Result<Secret, Error> {
        let path = SecretScope::Pipeline(ns, p).path(None);
        let builder = self.request(Method::POST, &refs(&path)).json(request);
        let response: SecretResponse = self.json(builder).await?;
        Ok(response.secret)
    }

    /// `POST /api/secrets/global`.
    pub async fn put_global_secret(
        &self,
        request: &PutGlobalSecretRequest,
    ) -> Result<Secret, Error> {
        let path = SecretScope::Global.path(None);
        let builder = self.request(Method::POST, &refs(&path)).json(request);
        let response: SecretResponse = self.json(builder).await?;
        Ok(response.secret)
    }

    /// `DELETE …/secrets/{key}`.
    pub async fn delete_secret(&self, scope: SecretScope<'_>, key: &str) -> Result<(), Error> {
        let path = scope.path(Some(key));
        self.empty(self.request(Method::DELETE, &refs(&path))).await
    }
}
