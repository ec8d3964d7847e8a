//! Single events (SPEC §14.2 #2–3). The event stream is added with the websocket client.

use crate::{Client, Error};
use gofer_core::api::{Event, EventResponse};
use reqwest::Method;

impl Client {
    /// `GET /api/events/{id}`.
    pub async fn get_event(&self, id: &str) -> Result<Event, Error> {
        let response: EventResponse = self
            .json(self.request(Method::GET, &["api", "events", id]))
            .await?;
        Ok(response.event)
    }

    /// `DELETE /api/events/{id}`.
    pub async fn delete_event(&self, id: &str) -> Result<(), Error> {
        self.empty(self.request(Method::DELETE, &["api", "events", id]))
            .await
    }
}
