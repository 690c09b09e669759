//! # parchment-server
//!
//! The self-hostable Parchment server: `api` (HTTP handlers) → `service` (decisions) →
//! `store` (SQL on SQLite or PostgreSQL). `main.rs` only parses the command line.

#![warn(missing_docs)]

pub mod allowed_methods;
pub mod api;
pub mod app;
pub mod backup;
pub mod cli;
pub mod clock;
pub mod compression;
pub mod config;
pub mod doctor;
pub mod edge;
pub mod error;
pub mod error_code;
pub mod federation;
pub mod housekeeping;
pub mod metrics;
pub mod openapi_document;
pub mod push;
pub mod route_template;
pub mod secrets;
pub mod security_headers;
pub mod server_key;
pub mod service;
pub mod state;
pub mod store;
pub mod strict_json;
pub mod web_app;
