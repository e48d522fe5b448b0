//! Prime factorization, twice: the "old" algorithm (trial division, slow on large numbers) and
//! the "new" one (Pollard's rho with Miller-Rabin, much faster), as seed 000's backend versions
//! v1 and v3 have them. Both return the prime factors in ascending order with multiplicity.

/// Trial division: v1's algorithm. O(sqrt n).
pub fn trial_division(mut n: u64) -> Vec<u64> {
    let mut factors = Vec::new();
    if n < 2 {
        return factors;
    }
    while n.is_multiple_of(2) {
        factors.push(2);
        n /= 2;
    }
    let mut d = 3u64;
    while d <= n / d {
        while n.is_multiple_of(d) {
            factors.push(d);
            n /= d;
        }
        d += 2;
    }
    if n > 1 {
        factors.push(n);
    }
    factors
}

fn mul_mod(a: u64, b: u64, m: u64) -> u64 {
    ((a as u128 * b as u128) % m as u128) as u64
}

fn pow_mod(mut base: u64, mut exp: u64, m: u64) -> u64 {
    let mut acc = 1 % m;
    base %= m;
    while exp > 0 {
        if exp & 1 == 1 {
            acc = mul_mod(acc, base, m);
        }
        base = mul_mod(base, base, m);
        exp >>= 1;
    }
    acc
}

/// Deterministic Miller-Rabin for every `u64` (these 12 bases suffice below 3.3 * 10^24).
pub fn is_prime(n: u64) -> bool {
    const BASES: [u64; 12] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
    if n < 2 {
        return false;
    }
    for p in BASES {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let (mut d, mut s) = (n - 1, 0);
    while d % 2 == 0 {
        d /= 2;
        s += 1;
    }
    'bases: for a in BASES {
        let mut x = pow_mod(a, d, n);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mul_mod(x, x, n);
            if x == n - 1 {
                continue 'bases;
            }
        }
        return false;
    }
    true
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A non-trivial divisor of the odd composite `n` (Brent's variant of Pollard's rho).
fn rho(n: u64) -> u64 {
    for c in 1..n {
        let f = |x: u64| (mul_mod(x, x, n) + c) % n;
        let (mut x, mut y, mut d) = (2u64, 2u64, 1u64);
        while d == 1 {
            x = f(x);
            y = f(f(y));
            d = gcd(x.abs_diff(y), n);
        }
        if d != n {
            return d;
        }
    }
    n
}

/// Pollard's rho with Miller-Rabin: v3's algorithm.
pub fn pollard_rho(n: u64) -> Vec<u64> {
    let mut factors = Vec::new();
    let mut stack = vec![n];
    while let Some(mut m) = stack.pop() {
        if m < 2 {
            continue;
        }
        for p in [2u64, 3, 5, 7, 11, 13] {
            while m % p == 0 {
                factors.push(p);
                m /= p;
            }
        }
        if m < 2 {
            continue;
        }
        if is_prime(m) {
            factors.push(m);
            continue;
        }
        let d = rho(m);
        stack.push(d);
        stack.push(m / d);
    }
    factors.sort_unstable();
    factors
}

/// `Some((base, exponent))` when `n = base^exponent` with `exponent >= 2` (the largest exponent).
pub fn perfect_power(n: u64) -> Option<(u64, u32)> {
    if n < 4 {
        return None;
    }
    for k in (2..=63u32).rev() {
        let root = (n as f64).powf(1.0 / k as f64).round() as u64;
        for b in root.saturating_sub(1)..=root + 1 {
            if b >= 2 && b.checked_pow(k) == Some(n) {
                return Some((b, k));
            }
        }
    }
    None
}

/// v3 with the `perfect-powers` flaw: for `n = m^k` it returns the factors of `m` alone, losing
/// the multiplicity (36 gives [2, 3], not [2, 2, 3, 3]). Every other number is right.
pub fn pollard_rho_flawed(n: u64) -> Vec<u64> {
    match perfect_power(n) {
        Some((base, _)) => pollard_rho(base),
        None => pollard_rho(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_factorizations() {
        let cases: [(u64, &[u64]); 9] = [
            (1, &[]),
            (2, &[2]),
            (42, &[2, 3, 7]),
            (360, &[2, 2, 2, 3, 3, 5]),
            (97, &[97]),
            (600851475143, &[71, 839, 1471, 6857]),
            (1_000_000_007 * 998_244_353, &[998_244_353, 1_000_000_007]), // large semiprime
            (
                4_294_967_291 * 4_294_967_279,
                &[4_294_967_279, 4_294_967_291],
            ), // two 32-bit primes
            (18446744073709551557, &[18446744073709551557]),              // the largest u64 prime
        ];
        for (n, want) in cases {
            assert_eq!(pollard_rho(n), want, "rho {n}");
            if n < 1u64 << 50 {
                assert_eq!(trial_division(n), want, "trial {n}");
            }
        }
    }

    #[test]
    fn both_algorithms_agree() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..2000 {
            let n = rng.u64(2..1_000_000_000_000);
            assert_eq!(trial_division(n), pollard_rho(n), "{n}");
        }
        for n in 2..5000 {
            assert_eq!(trial_division(n), pollard_rho(n), "{n}");
        }
    }

    #[test]
    fn miller_rabin_matches_trial_division() {
        for n in 0..20_000u64 {
            assert_eq!(is_prime(n), trial_division(n) == [n], "{n}");
        }
        assert!(is_prime(2_305_843_009_213_693_951)); // 2^61 - 1
        assert!(!is_prime(3_215_031_751)); // strong pseudoprime to bases 2, 3, 5, 7
    }

    #[test]
    fn perfect_powers_are_found() {
        assert_eq!(perfect_power(36), Some((6, 2)));
        assert_eq!(perfect_power(1024), Some((2, 10)));
        assert_eq!(perfect_power(3_486_784_401), Some((3, 20)));
        assert_eq!(perfect_power(12), None);
        assert_eq!(perfect_power(97), None);
        assert_eq!(perfect_power(999_999_999_999_999_989), None);
    }

    #[test]
    fn the_flaw_changes_only_perfect_powers() {
        for n in 2..100_000u64 {
            let (good, bad) = (pollard_rho(n), pollard_rho_flawed(n));
            if perfect_power(n).is_some() {
                assert_ne!(good, bad, "{n} is a perfect power: the flaw shows");
            } else {
                assert_eq!(good, bad, "{n} is not a perfect power: no change");
            }
        }
        assert_eq!(pollard_rho_flawed(36), vec![2, 3]);
    }
}
