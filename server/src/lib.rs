//! # parchment-server
//!
//! The self-hostable Parchment server: `api` (HTTP handlers) → `service` (decisions) →
//! `store` (SQL on SQLite or PostgreSQL). `main.rs` only parses the command line.

pub mod allowed_methods;
pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod error;
pub mod federation;
pub mod openapi_document;
pub mod route_template;
pub mod security_headers;
pub mod service;
pub mod store;
pub mod strict_json;
