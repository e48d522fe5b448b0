//! How much to read from a socket next: small for heads, larger while a body streams.
//!
//! A fixed 8 KiB read cost a 1 MiB upload 128 reads, 128 frames through the body pipe and 128
//! writes to the upstream, one after another (the pipe holds one frame, so the client is read
//! only as fast as the upstream takes it): half nginx's throughput for 64 KiB and 1 MiB
//! mirrored POSTs. As hyper's adaptive read strategy: a read that fills the room it was given
//! doubles the next one, up to [`ReadSize::MAX`]; two reads in a row that fill less than half
//! halve it, down to [`ReadSize::MIN`]. Pure: the connection reserves and reports.

use bytes::BytesMut;

/// The next read's size, as the reads so far suggest.
#[derive(Debug, Clone, Copy)]
pub struct ReadSize {
    next: usize,
    /// The last read filled less than half of its room.
    was_small: bool,
}

impl Default for ReadSize {
    fn default() -> Self {
        Self {
            next: Self::MIN,
            was_small: false,
        }
    }
}

impl ReadSize {
    /// The first read, and the size for heads and small messages: one page, as nginx's
    /// `proxy_buffer_size` (8 KiB, hyper's first read, held 8 KiB more per busy connection,
    /// its client's and its upstream's: at 4096 connections 106 MB against 85).
    pub const MIN: usize = 4 * 1024;
    /// The largest read: a streaming body's frames. The read buffer of a connection moving a
    /// large body holds at most about twice this (the frame in the pipe, the next read).
    pub const MAX: usize = 128 * 1024;

    /// Makes room in `buf` for the next read, if it has less than half of it free. Returns the
    /// room the read will have.
    pub fn reserve(&self, buf: &mut BytesMut) -> usize {
        if buf.capacity() - buf.len() < self.next / 2 {
            buf.reserve(self.next);
        }
        buf.capacity() - buf.len()
    }

    /// Notes a read of `n` bytes into `room`.
    pub fn record(&mut self, n: usize, room: usize) {
        if n >= room && room >= self.next / 2 {
            self.next = (self.next * 2).min(Self::MAX);
            self.was_small = false;
        } else if n < self.next / 2 {
            if self.was_small {
                self.next = (self.next / 2).max(Self::MIN);
            }
            self.was_small = !self.was_small;
        } else {
            self.was_small = false;
        }
    }

    /// Frees a large, empty buffer once its connection is idle: a connection that carried a
    /// large body would otherwise keep up to [`ReadSize::MAX`] while it waits (thousands of
    /// idle keep-alive connections). The next read starts small again.
    pub fn idle(&mut self, buf: &mut BytesMut) {
        if buf.is_empty() && buf.capacity() > 2 * Self::MIN {
            *buf = BytesMut::new();
        }
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_reads_double_the_next_up_to_the_largest() {
        let mut size = ReadSize::default();
        let mut seen = vec![size.next];
        for _ in 0..6 {
            let room = size.next;
            size.record(room, room);
            seen.push(size.next);
        }
        let k = 1024;
        assert_eq!(
            seen,
            [4 * k, 8 * k, 16 * k, 32 * k, 64 * k, 128 * k, 128 * k]
        );
    }

    #[test]
    fn two_small_reads_in_a_row_halve_it_one_does_not() {
        let mut size = ReadSize::default();
        for _ in 0..4 {
            size.record(size.next, size.next);
        }
        assert_eq!(size.next, 64 * 1024);
        size.record(100, 64 * 1024);
        assert_eq!(size.next, 64 * 1024, "one small read keeps the size");
        size.record(40 * 1024, 64 * 1024);
        size.record(100, 64 * 1024);
        assert_eq!(
            size.next,
            64 * 1024,
            "a middling read between resets the count"
        );
        size.record(100, 64 * 1024);
        assert_eq!(size.next, 32 * 1024);
        for _ in 0..10 {
            size.record(1, 64 * 1024);
        }
        assert_eq!(size.next, ReadSize::MIN);
    }

    #[test]
    fn a_read_filling_a_small_leftover_room_does_not_grow_it() {
        let mut size = ReadSize::default();
        // 1 KiB left in a buffer made for 4 KiB, and filled: says nothing of the stream.
        size.record(1024, 1024);
        assert_eq!(size.next, ReadSize::MIN);
    }

    #[test]
    fn reserve_makes_room_for_the_next_read_and_says_how_much() {
        let mut size = ReadSize::default();
        let mut buf = BytesMut::new();
        assert!(size.reserve(&mut buf) >= ReadSize::MIN);
        size.record(ReadSize::MIN, ReadSize::MIN);
        buf.extend_from_slice(&[0; 100]);
        assert!(size.reserve(&mut buf) >= 2 * ReadSize::MIN);
    }

    #[test]
    fn an_idle_connection_frees_a_large_empty_buffer_and_starts_small() {
        let mut size = ReadSize::default();
        for _ in 0..5 {
            size.record(size.next, size.next);
        }
        let mut buf = BytesMut::with_capacity(ReadSize::MAX);
        size.idle(&mut buf);
        assert_eq!(buf.capacity(), 0);
        assert_eq!(size.next, ReadSize::MIN);
        let mut kept = BytesMut::with_capacity(ReadSize::MAX);
        kept.extend_from_slice(b"GET");
        size.idle(&mut kept);
        assert!(
            kept.capacity() >= ReadSize::MAX,
            "bytes still to read are kept"
        );
    }
}
