#!/usr/bin/perl
# Counts the words of hakmem's C sources a few times over in a hash, sorts them and prints the
# most frequent: hashes, strings and arrays growing and shrinking, the output fixed by the input.
use strict;
use warnings;

my $dir = shift // '.';
my @files = sort glob("$dir/*.c $dir/*.h");
die "no C sources in $dir\n" unless @files;
my %count;
for my $round (1 .. 40) {
  for my $file (@files) {
    open(my $fh, '<', $file) or die "$file: $!\n";
    local $/;
    my $text = <$fh>;
    close $fh;
    $count{"$_"}++ for $text =~ /[A-Za-z_][A-Za-z0-9_]*/g;
    my @lines = reverse split /\n/, $text;
    $count{'#lines'} += @lines;
  }
}
my @top = (sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count)[0 .. 14];
printf "%-24s %d\n", $_, $count{$_} for @top;
printf "distinct %d\n", scalar keys %count;
