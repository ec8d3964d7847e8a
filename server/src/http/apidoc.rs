//! A route's entry in the OpenAPI document (docs/api.md#the-openapi-document): its operation id,
//! summary, query parameters, request and answer bodies, and the errors particular to it. Each
//! row of the route table carries one; `openapi::document` turns the table into the document.

use schemars::{JsonSchema, Schema, SchemaGenerator};

/// Puts the schema of a type among the document's components and answers a reference to it.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// [`SchemaFn`] of `T`.
pub fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// A request or answer body.
#[derive(Clone, Copy)]
pub enum Body {
    Empty,
    Json(SchemaFn),
    /// Raw bytes of this media type (objects, logs, the backup tar, metrics).
    Bytes(&'static str),
}

/// How a query parameter is written.
#[derive(Clone, Copy)]
pub enum QueryKind {
    Bool,
    /// A whole number from `min`, at most `max` when given.
    Int {
        min: u64,
        max: Option<u64>,
    },
    Str,
    /// A string matching this regular expression.
    Pattern(&'static str),
    /// A comma-separated list of these names.
    List(&'static [&'static str]),
}

/// One query parameter.
#[derive(Clone, Copy)]
pub struct Query {
    pub name: &'static str,
    pub kind: QueryKind,
    pub description: &'static str,
}

/// `limit`, `offset` and `reverse` of every list (docs/api.md#common-rules).
pub const PAGE: &[Query] = &[
    Query {
        name: "limit",
        kind: QueryKind::Int {
            min: 0,
            max: Some(1000),
        },
        description: "At most this many items (0: the list's default, 50 for runs, 200 otherwise).",
    },
    Query {
        name: "offset",
        kind: QueryKind::Int { min: 0, max: None },
        description: "Skip this many items first.",
    },
    Query {
        name: "reverse",
        kind: QueryKind::Bool,
        description: "Newest first.",
    },
];

/// A route's entry in the document.
#[derive(Clone, Copy)]
pub struct Doc {
    /// The operation id; Gofer 0.9's where the operation existed there, so generated clients
    /// keep their method names.
    pub id: &'static str,
    pub summary: &'static str,
    pub query: &'static [Query],
    pub request: Body,
    /// A request body may be left out (the handler reads an empty body as `{}`).
    pub request_optional: bool,
    pub status: u16,
    pub answer: Body,
    /// Errors particular to this route; those every route of its kind can answer (400 for a
    /// bad version header, 401/403 by access, 404 for a path naming something missing, 413
    /// for a body, 500) are added by [`document`].
    pub errors: &'static [u16],
    /// A websocket route: the answer is the upgrade (101), then frames.
    pub websocket: bool,
    /// Also answers a plain HTTP request with this body (the log routes).
    pub plain: Option<Body>,
    /// Also answers the success body with this status (health: 503 when a check fails).
    pub also: Option<u16>,
}

/// A [`Doc`] that answers 200 without a body; refine it with the builder methods.
pub const fn doc(id: &'static str, summary: &'static str) -> Doc {
    Doc {
        id,
        summary,
        query: &[],
        request: Body::Empty,
        request_optional: false,
        status: 200,
        answer: Body::Empty,
        errors: &[],
        websocket: false,
        plain: None,
        also: None,
    }
}

impl Doc {
    pub const fn query(mut self, query: &'static [Query]) -> Doc {
        self.query = query;
        self
    }
    pub const fn body(mut self, schema: SchemaFn) -> Doc {
        self.request = Body::Json(schema);
        self
    }
    /// A JSON body that may be left out.
    pub const fn optional_body(mut self, schema: SchemaFn) -> Doc {
        self.request = Body::Json(schema);
        self.request_optional = true;
        self
    }
    /// Raw bytes of this media type; an empty body is an empty object.
    pub const fn bytes_in(mut self, media_type: &'static str) -> Doc {
        self.request = Body::Bytes(media_type);
        self.request_optional = true;
        self
    }
    /// 200 with this JSON body.
    pub const fn ok(mut self, schema: SchemaFn) -> Doc {
        self.answer = Body::Json(schema);
        self
    }
    /// 201 with this JSON body.
    pub const fn created(mut self, schema: SchemaFn) -> Doc {
        self.status = 201;
        self.answer = Body::Json(schema);
        self
    }
    /// 204 without a body.
    pub const fn no_content(mut self) -> Doc {
        self.status = 204;
        self.answer = Body::Empty;
        self
    }
    /// 200 with raw bytes of this media type.
    pub const fn bytes_out(mut self, media_type: &'static str) -> Doc {
        self.answer = Body::Bytes(media_type);
        self
    }
    pub const fn errors(mut self, errors: &'static [u16]) -> Doc {
        self.errors = errors;
        self
    }
    /// Also answers the success body with `status`.
    pub const fn also(mut self, status: u16) -> Doc {
        self.also = Some(status);
        self
    }
    /// A websocket route (101, then frames); `plain` also answers without the upgrade.
    pub const fn websocket(mut self, plain: Option<Body>) -> Doc {
        self.websocket = true;
        self.plain = plain;
        self
    }
}

/// An event id, as a pattern.
pub const EVENT_ID: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
