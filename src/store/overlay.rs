//! A file read as it is, with whatever is written to it kept in memory:
//! redb's page check (`Database::check_integrity`, which repairs, and so
//! writes) runs on it for a `-readonly` CHECK, which so verifies as much
//! as a writable one without a byte of the file changing. What redb
//! writes is its allocator state and headers: a few pages.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

const BLOCK: u64 = 4096;

#[derive(Debug)]
pub struct Overlay {
    file: std::fs::File,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    len: u64,
    /// Blocks written, by block number: they hide the file's.
    blocks: BTreeMap<u64, Vec<u8>>,
}

impl Overlay {
    pub fn open(path: &Path) -> io::Result<Overlay> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Overlay { file, state: Mutex::new(State { len, blocks: BTreeMap::new() }) })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Block `n` as it reads now: written, or the file's (zeros past its
    /// end).
    fn block(&self, state: &State, n: u64) -> io::Result<Vec<u8>> {
        if let Some(b) = state.blocks.get(&n) {
            return Ok(b.clone());
        }
        let mut b = vec![0u8; BLOCK as usize];
        let mut at = 0;
        while at < b.len() {
            match self.file.read_at(&mut b[at..], n * BLOCK + at as u64)? {
                0 => break,
                read => at += read,
            }
        }
        Ok(b)
    }
}

impl redb::StorageBackend for Overlay {
    fn len(&self) -> io::Result<u64> {
        Ok(self.state().len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let state = self.state();
        if offset + out.len() as u64 > state.len {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end of the file"));
        }
        let mut done = 0;
        while done < out.len() {
            let at = offset + done as u64;
            let block = self.block(&state, at / BLOCK)?;
            let from = (at % BLOCK) as usize;
            let n = (BLOCK as usize - from).min(out.len() - done);
            out[done..done + n].copy_from_slice(&block[from..from + n]);
            done += n;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut state = self.state();
        if len < state.len {
            // What lies past the new end reads as zeros if it grows again.
            let first_gone = len.div_ceil(BLOCK);
            for n in first_gone..state.len.div_ceil(BLOCK) {
                state.blocks.insert(n, vec![0; BLOCK as usize]);
            }
            if !len.is_multiple_of(BLOCK) {
                let n = len / BLOCK;
                let mut b = self.block(&state, n)?;
                b[(len % BLOCK) as usize..].fill(0);
                state.blocks.insert(n, b);
            }
        }
        state.len = len;
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut state = self.state();
        let mut done = 0;
        while done < data.len() {
            let at = offset + done as u64;
            let n_block = at / BLOCK;
            let mut block = self.block(&state, n_block)?;
            let from = (at % BLOCK) as usize;
            let n = (BLOCK as usize - from).min(data.len() - done);
            block[from..from + n].copy_from_slice(&data[done..done + n]);
            state.blocks.insert(n_block, block);
            done += n;
        }
        state.len = state.len.max(offset + data.len() as u64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Overlay;
    use redb::StorageBackend;

    #[test]
    fn an_overlay_reads_its_own_writes_and_never_changes_the_file() {
        let path = std::env::temp_dir().join(format!("caldb-overlay-{}", std::process::id()));
        let original: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        std::fs::write(&path, &original).expect("write the file");
        let o = Overlay::open(&path).expect("open");
        o.write(4090, b"across a block").expect("write");
        o.write(12_000, b"past the end").expect("write past the end");
        let mut out = vec![0u8; 14];
        o.read(4090, &mut out).expect("read");
        assert_eq!(out, b"across a block");
        assert_eq!(o.len().expect("len"), 12_012);
        let mut gap = vec![1u8; 4];
        o.read(10_500, &mut gap).expect("read the gap");
        assert_eq!(gap, [0; 4], "the grown part reads as zeros");
        o.set_len(4092).expect("shrink");
        o.set_len(5000).expect("grow");
        let mut back = vec![9u8; 8];
        o.read(4088, &mut back).expect("read");
        assert_eq!(back, [original[4088], original[4089], b'a', b'c', 0, 0, 0, 0]);
        assert!(o.read(4999, &mut [0u8; 2]).is_err(), "past the end");
        assert_eq!(std::fs::read(&path).expect("read the file"), original, "the file is as it was");
        let _ = std::fs::remove_file(&path);
    }
}
