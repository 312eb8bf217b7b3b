import { mergeChange } from '../../src/services/cloud-snapshot';

describe("folding one user's delta entries within a round", () => {
  test('later properties win, earlier ones the later entry does not mention stay', () => {
    expect(
      mergeChange(
        { id: 'u', removed: false, onPremisesDistinguishedName: 'CN=a', onPremisesImmutableId: 'X' },
        { id: 'u', removed: false, onPremisesDistinguishedName: 'CN=b' },
      ),
    ).toEqual({ id: 'u', removed: false, onPremisesDistinguishedName: 'CN=b', onPremisesImmutableId: 'X' });
  });

  test('a removal after an update removes; an entry after a removal brings the user back', () => {
    expect(
      mergeChange({ id: 'u', removed: false, onPremisesDistinguishedName: 'CN=a' }, { id: 'u', removed: true }),
    ).toEqual({ id: 'u', removed: true });
    expect(mergeChange({ id: 'u', removed: true }, { id: 'u', removed: false, onPremisesSyncEnabled: true })).toEqual({
      id: 'u',
      removed: false,
      onPremisesSyncEnabled: true,
    });
    expect(mergeChange(undefined, { id: 'u', removed: false })).toEqual({ id: 'u', removed: false });
  });
});
