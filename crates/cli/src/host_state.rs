//! Per-store data: WASI context, wasi:http context with our outbound hooks,
//! and the Spin interfaces' view.

use crate::outbound::{Hooks, Outbound};
use crate::spin_iface::{SpinCtx, SpinView};
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime::StoreLimits;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub struct StoreData {
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub hooks: Hooks,
    pub spin: Arc<SpinCtx>,
    pub limits: StoreLimits,
}

impl StoreData {
    pub fn new(spin: Arc<SpinCtx>, outbound: Arc<Outbound>, memory_limit: usize) -> Self {
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .inherit_stderr()
            .inherit_stdout()
            .build();
        StoreData {
            table: ResourceTable::new(),
            wasi,
            http: WasiHttpCtx::new(),
            hooks: Hooks(outbound),
            spin,
            limits: wasmtime::StoreLimitsBuilder::new().memory_size(memory_limit).build(),
        }
    }

    pub fn spin_view(&mut self) -> SpinView<'_> {
        SpinView {
            table: &mut self.table,
            ctx: &self.spin,
        }
    }
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StoreData {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}
