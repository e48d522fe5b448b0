//! Header maps kept for reuse on each thread. A proxied HTTP/1.1 request builds two maps (its
//! head's, its answer's) and drops both once they are written: two allocations and two frees
//! each (the index table and the entries), about 1,000 of a request's 29,000 instructions.
//! A map given back is cleared (its fields dropped, its tables kept) and the next head parsed
//! on the same thread fills it. Bounded: a thread keeps at most [`KEPT`] maps, none with room
//! for more than [`MAX_ROOM`] fields.
//!
//! The extension sets an answer's passed fields ride in ([`super::passed`]) are kept the same
//! way: a new set costs three allocations (its box, its table, the value's box) and a kept
//! one only the value's.

use std::cell::RefCell;

use http::{Extensions, HeaderMap};

/// Maps kept per thread: a data-plane thread parses and writes heads one at a time per task,
/// so a handful is in use between a give and the next take.
pub const KEPT: usize = 32;
/// A map grown past this many fields (a client's huge head) is freed, not kept.
pub const MAX_ROOM: usize = 64;
/// Every map is made with room for at least this many fields, so a map kept from an answer
/// (a few fields) does not have to grow for the next request (its fields and the proxy's).
pub const MIN_ROOM: usize = 12;

thread_local! {
    static SPARE: RefCell<Vec<HeaderMap>> = const { RefCell::new(Vec::new()) };
    static SPARE_EXTENSIONS: RefCell<Vec<Extensions>> = const { RefCell::new(Vec::new()) };
}

/// An empty map with room for `fields` fields: a kept one if the thread has one.
pub fn take(fields: usize) -> HeaderMap {
    let kept = SPARE.with(|spare| spare.borrow_mut().pop());
    match kept {
        Some(mut map) => {
            map.reserve(fields);
            map
        }
        None => HeaderMap::with_capacity(fields.max(MIN_ROOM)),
    }
}

/// Gives a map that is no longer needed back to this thread, for [`take`]. Meant for maps
/// the project's HTTP/1.1 parsers made (at most 100 fields): a map with more values than
/// [`MAX_ROOM`] is freed, as one with more room (repeated values of one name live in a table
/// `capacity` does not count, and `clear` keeps).
pub fn give(mut map: HeaderMap) {
    if map.capacity() == 0 || map.capacity() > MAX_ROOM || map.len() > MAX_ROOM {
        return;
    }
    map.clear();
    SPARE.with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.len() < KEPT {
            spare.push(map);
        }
    });
}

/// An empty extension set: a kept one (its table allocated) if the thread has one.
pub fn take_extensions() -> Extensions {
    let kept = SPARE_EXTENSIONS.with(|spare| spare.borrow_mut().pop());
    kept.unwrap_or_default()
}

/// Gives an extension set back to this thread, for [`take_extensions`]: meant for one that
/// held a value (so its table is allocated). Its values are dropped; at most [`KEPT`] are kept.
pub fn give_extensions(mut extensions: Extensions) {
    extensions.clear();
    SPARE_EXTENSIONS.with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.len() < KEPT {
            spare.push(extensions);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept() -> usize {
        SPARE.with(|spare| spare.borrow().len())
    }

    #[test]
    fn a_map_given_back_is_taken_again_empty_with_its_room() {
        let mut map = take(8);
        map.insert("x-a", "1".parse().unwrap());
        let room = map.capacity();
        give(map);
        assert_eq!(kept(), 1);
        let again = take(4);
        assert!(again.is_empty(), "its fields are gone");
        assert_eq!(again.capacity(), room, "its tables are kept");
        assert_eq!(kept(), 0);
    }

    #[test]
    fn a_kept_map_grows_to_the_room_asked_for() {
        give(HeaderMap::with_capacity(4));
        assert!(take(40).capacity() >= 40);
    }

    #[test]
    fn huge_and_empty_maps_are_not_kept_and_the_stash_is_bounded() {
        give(HeaderMap::with_capacity(MAX_ROOM * 2));
        give(HeaderMap::new());
        let mut repeated = HeaderMap::with_capacity(4);
        for _ in 0..=MAX_ROOM {
            repeated.append("x-again", "1".parse().unwrap());
        }
        assert!(
            repeated.capacity() <= MAX_ROOM,
            "one name: little room counted"
        );
        give(repeated);
        assert_eq!(kept(), 0);
        for _ in 0..KEPT + 10 {
            give(HeaderMap::with_capacity(8));
        }
        assert_eq!(kept(), KEPT);
    }

    #[test]
    fn an_extension_set_given_back_is_taken_again_empty_and_the_stash_is_bounded() {
        let mut extensions = take_extensions();
        extensions.insert(7u32);
        give_extensions(extensions);
        let again = take_extensions();
        assert!(
            again.is_empty() && again.get::<u32>().is_none(),
            "its values are gone"
        );
        for _ in 0..KEPT + 10 {
            give_extensions(Extensions::new());
        }
        let kept = SPARE_EXTENSIONS.with(|spare| spare.borrow().len());
        assert_eq!(kept, KEPT);
    }
}
