//! The endpoint suite on the SQLite store of local mode, with the file outbox.

mod suite;

use suite::sqlite::Sqlite;

endpoint_suite!(Sqlite);
