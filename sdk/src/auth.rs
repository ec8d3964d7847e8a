//! Tokens and roles (docs/api.md#roles-global-secrets-system-tokens).

use crate::client::paged;
use crate::{Client, Error};
use gofer_core::api::{
    CreateRoleRequest, CreateTokenRequest, CreatedToken, Page, Role, RoleResponse, RolesResponse,
    Token, TokenResponse, TokensResponse, UpdateRoleRequest, UpdateTokenRequest,
};
use reqwest::Method;

impl Client {
    /// `GET /api/tokens` (admin).
    pub async fn list_tokens(&self, page: Option<Page>) -> Result<Vec<Token>, Error> {
        let builder = paged(self.request(Method::GET, &["api", "tokens"]), page);
        let response: TokensResponse = self.json(builder).await?;
        Ok(response.tokens)
    }

    /// `POST /api/tokens` (admin); the answer holds the secret, shown only this once.
    pub async fn create_token(&self, request: &CreateTokenRequest) -> Result<CreatedToken, Error> {
        let builder = self.request(Method::POST, &["api", "tokens"]).json(request);
        self.json(builder).await
    }

    /// `POST /api/tokens/bootstrap` (no auth; once per server).
    pub async fn bootstrap_token(&self) -> Result<CreatedToken, Error> {
        self.json(self.request(Method::POST, &["api", "tokens", "bootstrap"]))
            .await
    }

    /// `GET /api/tokens/whoami`: the token this client authenticates with.
    pub async fn whoami(&self) -> Result<Token, Error> {
        let response: TokenResponse = self
            .json(self.request(Method::GET, &["api", "tokens", "whoami"]))
            .await?;
        Ok(response.token)
    }

    /// `GET /api/tokens/{id}` (admin, or the token itself).
    pub async fn get_token(&self, id: &str) -> Result<Token, Error> {
        let response: TokenResponse = self
            .json(self.request(Method::GET, &["api", "tokens", id]))
            .await?;
        Ok(response.token)
    }

    /// `PATCH /api/tokens/{id}` (admin): enable or disable.
    pub async fn update_token(&self, id: &str, request: &UpdateTokenRequest) -> Result<(), Error> {
        let builder = self
            .request(Method::PATCH, &["api", "tokens", id])
            .json(request);
        self.empty(builder).await
    }

    /// `DELETE /api/tokens/{id}` (admin).
    pub async fn delete_token(&self, id: &str) -> Result<(), Error> {
        self.empty(self.request(Method::DELETE, &["api", "tokens", id]))
            .await
    }

    /// `GET /api/roles`.
    pub async fn list_roles(&self, page: Option<Page>) -> Result<Vec<Role>, Error> {
        let builder = paged(self.request(Method::GET, &["api", "roles"]), page);
        let response: RolesResponse = self.json(builder).await?;
        Ok(response.roles)
    }

    /// `GET /api/roles/{id}`.
    pub async fn get_role(&self, id: &str) -> Result<Role, Error> {
        let response: RoleResponse = self
            .json(self.request(Method::GET, &["api", "roles", id]))
            .await?;
        Ok(response.role)
    }

    /// `POST /api/roles` (admin).
    pub async fn create_role(&self, request: &CreateRoleRequest) -> Result<Role, Error> {
        let builder = self.request(Method::POST, &["api", "roles"]).json(request);
        let response: RoleResponse = self.json(builder).await?;
        Ok(response.role)
    }

    /// `PATCH /api/roles/{id}` (admin; system roles are refused).
    pub async fn update_role(&self, id: &str, request: &UpdateRoleRequest) -> Result<Role, Error> {
        let builder = self
            .request(Method::PATCH, &["api", "roles", id])
            .json(request);
        let response: RoleResponse = self.json(builder).await?;
        Ok(response.role)
    }

    /// `DELETE /api/roles/{id}` (admin; system roles are refused).
    pub async fn delete_role(&self, id: &str) -> Result<(), Error> {
        self.empty(self.request(Method::DELETE, &["api", "roles", id]))
            .await
    }
}
