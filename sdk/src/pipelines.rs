//! Pipelines, config versions and deployments (docs/api.md#namespaces-and-pipelines, docs/api.md#configs-and-deployments).

use crate::client::paged;
use crate::{Client, Error};
use gofer_core::api::{
    Config, ConfigDiff, ConfigDiffResponse, ConfigResponse, ConfigsResponse, DeployRequest,
    Deployment, DeploymentResponse, DeploymentsResponse, Metadata, Page, Pipeline,
    PipelineConfigInput, PipelineResponse, PipelinesResponse, RegisterConfigRequest,
    RegisterConfigResponse, UpdatePipelineRequest,
};
use gofer_core::enums::PipelineState;
use reqwest::Method;

impl Client {
    fn pipeline_path<'a>(ns: &'a str, p: &'a str) -> [&'a str; 5] {
        ["api", "namespaces", ns, "pipelines", p]
    }

    /// `GET /api/namespaces/{ns}/pipelines`.
    pub async fn list_pipelines(
        &self,
        ns: &str,
        page: Option<Page>,
    ) -> Result<Vec<Metadata>, Error> {
        let builder = paged(
            self.request(Method::GET, &["api", "namespaces", ns, "pipelines"]),
            page,
        );
        let response: PipelinesResponse = self.json(builder).await?;
        Ok(response.pipelines)
    }

    /// `GET /api/namespaces/{ns}/pipelines/{p}`: the pipeline's metadata.
    pub async fn get_pipeline(&self, ns: &str, p: &str) -> Result<Metadata, Error> {
        let response: PipelineResponse = self
            .json(self.request(Method::GET, &Self::pipeline_path(ns, p)))
            .await?;
        Ok(response.pipeline)
    }

    /// `PATCH /api/namespaces/{ns}/pipelines/{p}` with `{state}`: enables or disables the pipeline.
    pub async fn update_pipeline_state(
        &self,
        ns: &str,
        p: &str,
        state: PipelineState,
    ) -> Result<(), Error> {
        let builder = self
            .request(Method::PATCH, &Self::pipeline_path(ns, p))
            .json(&UpdatePipelineRequest { state });
        self.empty(builder).await
    }

    /// `DELETE /api/namespaces/{ns}/pipelines/{p}`, with everything it owns (docs/pipelines.md#what-a-delete-takes-with-it).
    pub async fn delete_pipeline(&self, ns: &str, p: &str) -> Result<(), Error> {
        self.empty(self.request(Method::DELETE, &Self::pipeline_path(ns, p)))
            .await
    }

    /// `POST …/pipelines/{p}/configs` with `{"config": …}` (docs/pipelines.md#writing-a-pipeline-config): registers a new, unreleased
    /// config version, creating the pipeline on first registration.
    pub async fn register_config(
        &self,
        ns: &str,
        p: &str,
        config: &PipelineConfigInput,
    ) -> Result<Pipeline, Error> {
        let body = RegisterConfigRequest {
            config: config.clone(),
        };
        let builder = self
            .request(
                Method::POST,
                &[&Self::pipeline_path(ns, p)[..], &["configs"]].concat(),
            )
            .json(&body);
        let response: RegisterConfigResponse = self.json(builder).await?;
        Ok(response.pipeline)
    }

    /// `GET …/pipelines/{p}/configs`, newest version first unless the page says `reverse`.
    pub async fn list_configs(
        &self,
        ns: &str,
        p: &str,
        page: Option<Page>,
    ) -> Result<Vec<Config>, Error> {
        let path = [&Self::pipeline_path(ns, p)[..], &["configs"]].concat();
        let response: ConfigsResponse = self
            .json(paged(self.request(Method::GET, &path), page))
            .await?;
        Ok(response.configs)
    }

    /// `GET …/pipelines/{p}/configs/{version}`; version `0` means the latest registered.
    pub async fn get_config(&self, ns: &str, p: &str, version: u64) -> Result<Config, Error> {
        let version = version.to_string();
        let path = [&Self::pipeline_path(ns, p)[..], &["configs", &version]].concat();
        let response: ConfigResponse = self.json(self.request(Method::GET, &path)).await?;
        Ok(response.config)
    }

    /// `GET …/pipelines/{p}/configs/{from}/diff/{to}`: what changed from one version to another
    /// (docs/pipelines.md#comparing-versions); `0` on either side is the latest registered.
    pub async fn config_diff(
        &self,
        ns: &str,
        p: &str,
        from: u64,
        to: u64,
    ) -> Result<ConfigDiff, Error> {
        let (from, to) = (from.to_string(), to.to_string());
        let path = [
            &Self::pipeline_path(ns, p)[..],
            &["configs", &from, "diff", &to],
        ]
        .concat();
        let response: ConfigDiffResponse = self.json(self.request(Method::GET, &path)).await?;
        Ok(response.diff)
    }

    /// `POST …/pipelines/{p}/configs/{version}`: makes the version live (docs/pipelines.md#versions-and-deployments) and answers the
    /// finished deployment.
    pub async fn deploy_config(
        &self,
        ns: &str,
        p: &str,
        version: u64,
    ) -> Result<Deployment, Error> {
        let version = version.to_string();
        let path = [&Self::pipeline_path(ns, p)[..], &["configs", &version]].concat();
        let response: DeploymentResponse = self.json(self.request(Method::POST, &path)).await?;
        Ok(response.deployment)
    }

    /// `POST …/pipelines/{p}/configs/{version}` with a strategy (docs/pipelines.md#safe-deployments):
    /// a canary or a smoke run answers the deployment `running`; follow it with
    /// [`Client::get_deployment`]. An empty request is [`Client::deploy_config`].
    pub async fn deploy_config_with(
        &self,
        ns: &str,
        p: &str,
        version: u64,
        request: &DeployRequest,
    ) -> Result<Deployment, Error> {
        let version = version.to_string();
        let path = [&Self::pipeline_path(ns, p)[..], &["configs", &version]].concat();
        let response: DeploymentResponse = self
            .json(self.request(Method::POST, &path).json(request))
            .await?;
        Ok(response.deployment)
    }

    /// `POST …/pipelines/{p}/deployments/{id}/promote`: makes a running deployment's version live now.
    pub async fn promote_deployment(
        &self,
        ns: &str,
        p: &str,
        id: u64,
    ) -> Result<Deployment, Error> {
        self.finish_deployment(ns, p, id, "promote").await
    }

    /// `POST …/pipelines/{p}/deployments/{id}/abort`: ends a running deployment; the live version
    /// does not change.
    pub async fn abort_deployment(&self, ns: &str, p: &str, id: u64) -> Result<Deployment, Error> {
        self.finish_deployment(ns, p, id, "abort").await
    }

    async fn finish_deployment(
        &self,
        ns: &str,
        p: &str,
        id: u64,
        action: &str,
    ) -> Result<Deployment, Error> {
        let id = id.to_string();
        let path = [
            &Self::pipeline_path(ns, p)[..],
            &["deployments", &id, action],
        ]
        .concat();
        let response: DeploymentResponse = self.json(self.request(Method::POST, &path)).await?;
        Ok(response.deployment)
    }

    /// `DELETE …/pipelines/{p}/configs/{version}` (never the live version).
    pub async fn delete_config(&self, ns: &str, p: &str, version: u64) -> Result<(), Error> {
        let version = version.to_string();
        let path = [&Self::pipeline_path(ns, p)[..], &["configs", &version]].concat();
        self.empty(self.request(Method::DELETE, &path)).await
    }

    /// `GET …/pipelines/{p}/deployments`, oldest first unless the page says `reverse`.
    pub async fn list_deployments(
        &self,
        ns: &str,
        p: &str,
        page: Option<Page>,
    ) -> Result<Vec<Deployment>, Error> {
        let path = [&Self::pipeline_path(ns, p)[..], &["deployments"]].concat();
        let response: DeploymentsResponse = self
            .json(paged(self.request(Method::GET, &path), page))
            .await?;
        Ok(response.deployments)
    }

    /// `GET …/pipelines/{p}/deployments/{id}`.
    pub async fn get_deployment(&self, ns: &str, p: &str, id: u64) -> Result<Deployment, Error> {
        let id = id.to_string();
        let path = [&Self::pipeline_path(ns, p)[..], &["deployments", &id]].concat();
        let response: DeploymentResponse = self.json(self.request(Method::GET, &path)).await?;
        Ok(response.deployment)
    }
}
