//! Spin's `key-value@3.0.0` and `variables@3.0.0` interfaces, implemented on
//! the host's SQLite store and resolved variables.

use crate::kv::KvDb;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use wasmtime::component::{Accessor, FutureReader, HasData, Linker, Resource, ResourceTable, StreamReader};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "ai-proxy:component/spin-host",
        imports: { default: async | store | trappable },
        with: {
            "spin:key-value/key-value.store": super::OpenStore,
        },
    });
}

pub use bindings::spin::key_value::key_value;
pub use bindings::spin::variables::variables;

/// An open key-value store: the label the guest opened.
pub struct OpenStore {
    label: String,
}

/// What the Spin interfaces need from the host, shared by every instance.
pub struct SpinCtx {
    pub kv: Arc<KvDb>,
    /// Store labels the component may open (`key_value_stores`).
    pub stores: BTreeSet<String>,
    /// The component's variables, already resolved.
    pub variables: HashMap<String, String>,
}

pub struct SpinView<'a> {
    pub table: &'a mut ResourceTable,
    pub ctx: &'a Arc<SpinCtx>,
}

pub struct Spin;

impl HasData for Spin {
    type Data<'a> = SpinView<'a>;
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> SpinView<'_>,
) -> wasmtime::Result<()> {
    key_value::add_to_linker::<T, Spin>(linker, get)?;
    variables::add_to_linker::<T, Spin>(linker, get)?;
    Ok(())
}

type KvResult<T> = wasmtime::Result<Result<T, key_value::Error>>;

fn kv_err(e: anyhow::Error) -> key_value::Error {
    key_value::Error::Other(format!("{e:#}"))
}

/// Runs a blocking SQLite call for the store behind `res`.
fn with_store<T, R>(
    accessor: &Accessor<T, Spin>,
    res: &Resource<OpenStore>,
    f: impl FnOnce(&KvDb, &str) -> anyhow::Result<R>,
) -> KvResult<R> {
    accessor.with(|mut access| {
        let view = access.get();
        let label = view.table.get(res)?.label.clone();
        Ok(f(&view.ctx.kv, &label).map_err(kv_err))
    })
}

impl key_value::Host for SpinView<'_> {}

impl key_value::HostStore for SpinView<'_> {}

impl<T: Send> key_value::HostStoreWithStore<T> for Spin {
    async fn drop(accessor: &Accessor<T, Self>, rep: Resource<OpenStore>) -> wasmtime::Result<()> {
        accessor.with(|mut access| access.get().table.delete(rep))?;
        Ok(())
    }

    async fn open(accessor: &Accessor<T, Self>, label: String) -> KvResult<Resource<OpenStore>> {
        accessor.with(|mut access| {
            let view = access.get();
            if !view.ctx.stores.contains(&label) {
                return Ok(Err(key_value::Error::NoSuchStore));
            }
            Ok(Ok(view.table.push(OpenStore { label })?))
        })
    }

    async fn get(accessor: &Accessor<T, Self>, self_: Resource<OpenStore>, key: String) -> KvResult<Option<Vec<u8>>> {
        with_store(accessor, &self_, |db, store| db.get(store, &key))
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        self_: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> KvResult<()> {
        with_store(accessor, &self_, |db, store| db.set(store, &key, &value))
    }

    async fn delete(accessor: &Accessor<T, Self>, self_: Resource<OpenStore>, key: String) -> KvResult<()> {
        with_store(accessor, &self_, |db, store| db.delete(store, &key))
    }

    async fn exists(accessor: &Accessor<T, Self>, self_: Resource<OpenStore>, key: String) -> KvResult<bool> {
        with_store(accessor, &self_, |db, store| db.exists(store, &key))
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        self_: Resource<OpenStore>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), key_value::Error>>)> {
        let keys = with_store(accessor, &self_, |db, store| db.keys(store))?;
        let (keys, result) = match keys {
            Ok(k) => (k, Ok(())),
            Err(e) => (Vec::new(), Err(e)),
        };
        accessor.with(|mut access| {
            let stream = StreamReader::new(&mut access, keys)?;
            let future = FutureReader::new(&mut access, async move {
                wasmtime::Result::<Result<(), key_value::Error>>::Ok(result)
            })?;
            Ok((stream, future))
        })
    }
}

impl variables::Host for SpinView<'_> {}

impl<T: Send> variables::HostWithStore<T> for Spin {
    async fn get(accessor: &Accessor<T, Self>, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        accessor.with(|mut access| {
            let view = access.get();
            Ok(match view.ctx.variables.get(&name) {
                Some(v) => Ok(v.clone()),
                None => Err(variables::Error::Undefined(format!("no variable named {name:?}"))),
            })
        })
    }
}
