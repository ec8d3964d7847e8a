//! Namespaces (docs/api.md#namespaces-and-pipelines).

use crate::client::paged;
use crate::{Client, Error};
use gofer_core::api::{
    CreateNamespaceRequest, Namespace, NamespaceResponse, NamespacesResponse, Page,
    UpdateNamespaceRequest,
};
use reqwest::Method;

impl Client {
    /// `GET /api/namespaces`, ordered by id unless the page says `reverse`.
    pub async fn list_namespaces(&self, page: Option<Page>) -> Result<Vec<Namespace>, Error> {
        let builder = paged(self.request(Method::GET, &["api", "namespaces"]), page);
        let response: NamespacesResponse = self.json(builder).await?;
        Ok(response.namespaces)
    }

    /// `GET /api/namespaces/{ns}`.
    pub async fn get_namespace(&self, id: &str) -> Result<Namespace, Error> {
        let response: NamespaceResponse = self
            .json(self.request(Method::GET, &["api", "namespaces", id]))
            .await?;
        Ok(response.namespace)
    }

    /// `POST /api/namespaces`; answers the created namespace.
    pub async fn create_namespace(
        &self,
        request: &CreateNamespaceRequest,
    ) -> Result<Namespace, Error> {
        let builder = self
            .request(Method::POST, &["api", "namespaces"])
            .json(request);
        let response: NamespaceResponse = self.json(builder).await?;
        Ok(response.namespace)
    }

    /// `PATCH /api/namespaces/{ns}` (at least one field); answers the updated namespace.
    pub async fn update_namespace(
        &self,
        id: &str,
        request: &UpdateNamespaceRequest,
    ) -> Result<Namespace, Error> {
        let builder = self
            .request(Method::PATCH, &["api", "namespaces", id])
            .json(request);
        let response: NamespaceResponse = self.json(builder).await?;
        Ok(response.namespace)
    }

    /// `DELETE /api/namespaces/{ns}`, deleting its pipelines with it (docs/pipelines.md#what-a-delete-takes-with-it).
    pub async fn delete_namespace(&self, id: &str) -> Result<(), Error> {
        self.empty(self.request(Method::DELETE, &["api", "namespaces", id]))
            .await
    }
}
